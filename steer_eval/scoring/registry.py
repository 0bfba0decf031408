"""The scorer registry: a scorer turns generated texts (with each item's reference and prompt) into behaviour
scores, or None where a text cannot be scored (an unparseable judge rating, a reply with no answer in it).
None is a missing value, counted and reported, never a 0.

Named scorers are registered (`register_scorer`: the rule scorers); parametrised ones are built from their
name, `KIND:ARGUMENTS` (`classifier:MODEL:LABEL`), by the factory registered for the kind. A scorer's name is
all a run records of it in the cell key, so the name says everything that changes its scores."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from steer_eval.errors import SteerEvalError

ScoreFn = Callable[[str, str], float | None]


class ScorerError(SteerEvalError):
    """An unknown scorer, or one that cannot be set up (a model that does not load, an endpoint not reached)."""


@dataclass(frozen=True)
class Scorer:
    """What every scorer offers. Subclasses score many texts at once (`score_all`) and may need set-up
    (`check`: load a model, reach an endpoint) that a run does before any generation starts."""

    name: str
    measures: str  # what a higher score means, in words
    low: float = 0.0  # the scale's ends (saturation is judged against them)
    high: float = 1.0

    def score_all(
        self, texts: Sequence[str], references: Sequence[str], prompts: Sequence[str] | None = None
    ) -> list[float | None]:
        raise NotImplementedError

    def score_details(
        self, texts: Sequence[str], references: Sequence[str], prompts: Sequence[str] | None = None, concept: str = ""
    ) -> list[dict[str, float | None]]:
        """Per text: `score` (the behaviour score) and whatever else the scorer rates (a judge: `relevance`,
        `judge_fluency`, `judge_overall`). `concept` says in words which behaviour the task measures."""
        return [{"score": value} for value in self.score_all(texts, references, prompts)]

    def score(self, text: str, reference: str = "", prompt: str = "") -> float | None:
        return self.score_all([text], [reference], [prompt])[0]

    def check(self) -> None:
        """Fail now, with one clear line, if the scorer cannot run."""

    def describe(self) -> dict:
        return {"name": self.name, "measures": self.measures, "scale": [self.low, self.high]}


@dataclass(frozen=True)
class RuleScorer(Scorer):
    fn: ScoreFn = field(default=lambda text, reference: None, repr=False)  # (text, reference) -> score or None

    def score_all(self, texts, references, prompts=None) -> list[float | None]:
        values = [self.fn(t, r) for t, r in zip(texts, references, strict=True)]
        return [None if v is None else float(v) for v in values]


_SCORERS: dict[str, Scorer] = {}
_FACTORIES: dict[str, Callable[[str, str], Scorer]] = {}  # kind -> (name, arguments) -> scorer


def register_scorer(scorer: Scorer) -> Scorer:
    if scorer.name in _SCORERS:
        raise ValueError(f"scorer {scorer.name} registered twice")
    _SCORERS[scorer.name] = scorer
    return scorer


def register_factory(kind: str, factory: Callable[[str, str], Scorer]) -> None:
    _FACTORIES[kind] = factory


def _load() -> None:
    from steer_eval.scoring import classifier, judge, rules  # noqa: F401  (importing registers them)


def scorer_names() -> list[str]:
    _load()
    return sorted(_SCORERS) + [f"{kind}:..." for kind in sorted(_FACTORIES)]


@functools.lru_cache(maxsize=32)
def get_scorer(name: str) -> Scorer:
    """The scorer called `name` (a registered one, or one a factory builds from `KIND:ARGUMENTS`)."""
    _load()
    if name in _SCORERS:
        return _SCORERS[name]
    kind, sep, arguments = name.partition(":")
    if sep and kind in _FACTORIES:
        return _FACTORIES[kind](name, arguments)
    close = difflib.get_close_matches(name, list(_SCORERS) + list(_FACTORIES), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ScorerError(f"unknown scorer {name!r}; {hint}scorers are {', '.join(scorer_names())}")
