"""Which labelled tasks steer-eval knows: name, kind (behavior / intelligence), family, which answer is
desired, where the data comes from (URL, pinned revision, licence), and how to load its splits. Data files
are read from a local folder (`--data-dir` or $STEER_EVAL_DATA) laid out as the datasets' authors
distribute them; splits are deterministic (a hashed assignment where the source has none)."""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.hub import HubSource
from steer_eval.tasks.items import GenItem, MCItem
from steer_eval.tasks.questions import without_test_questions

DATA_ENV = "STEER_EVAL_DATA"
SPLITS = ("train", "validation", "test")
KINDS = ("behavior", "intelligence")

Item = MCItem | GenItem
Loader = Callable[[Path | None], dict[str, list[Item]]]


class TaskError(SteerEvalError):
    """An unknown task, a missing data folder or file, or malformed task data."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # "behavior" or "intelligence"
    family: str  # bias, morality, alignment, safety, sentiment, knowledge, reasoning, math, commonsense
    desired: str  # which answer the target is, and whether more of it is wanted, in words
    source: str  # where the data comes from: URL @ pinned revision
    licence: str
    loader: Loader
    data_files: tuple[str, ...] = ()  # paths under the data folder; empty = built in (the demo)
    target_is_desired: bool | None = True  # False: the target behaviour is unwanted; None: a probe
    output: str = "multiple_choice"  # or "generate_until"
    groups: tuple[str, ...] = ()  # lm-eval groups the task belongs to (besides kind and family)
    hub: HubSource | None = None  # where users with network get the data when they give no local folder
    scorer: str | None = None  # generation tasks: the scorer that reads the behaviour from the text (scoring/)
    # behaviour tasks: instructions that ask for the behaviour, (name, text): the rival prompt arms (run/arms.py)
    prompts: tuple[tuple[str, str], ...] = ()
    own_yaml: bool = False  # its lm-eval YAML is hand-written (the demo's, under tasks/demo) and keeps its name
    scorer_required: bool = False  # a generation task no rule can score: a run must name one (--scorer)
    test_only: bool = False  # evaluation prompts only (no train / validation split to build or select on)

    @property
    def builtin(self) -> bool:
        return not self.data_files and self.hub is None

    def missing_files(self, data_dir: str | Path | None = None) -> list[str]:
        """The local data files not found (all of them when no data folder is known)."""
        if not self.data_files:
            return []
        folder = _data_dir_or_none(data_dir)
        return [f for f in self.data_files if folder is None or not (folder / f).is_file()]

    def load(self, data_dir: str | Path | None = None) -> dict[str, list[Item]]:
        """The task's splits: from the local folder when one is given (argument or $STEER_EVAL_DATA) and the
        task has local files; otherwise from the Hugging Face hub where the task has a hub copy."""
        if self.builtin:
            return _load_cached(self.name, "")
        if self.hub is not None and (not self.data_files or _data_dir_or_none(data_dir) is None):
            return _load_hub(self.name)
        folder = resolve_data_dir(data_dir, self)
        missing = self.missing_files(folder)
        if missing:
            raise TaskError(
                f"task {self.name} needs {', '.join(missing)} under the data folder {folder}, which "
                f"{'is' if len(missing) == 1 else 'are'} missing; get the files from {self.source} and keep "
                "the authors' file layout"
            )
        return _load_cached(self.name, str(folder) if folder else "")


@functools.lru_cache(maxsize=32)
def _load_cached(name: str, folder: str) -> dict[str, list[Item]]:
    spec = _REGISTRY[name]
    try:
        return without_test_questions(spec.loader(Path(folder) if folder else None))
    except (KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise TaskError(f"task {name}: malformed data under {folder} ({type(exc).__name__}: {exc})") from None


@functools.lru_cache(maxsize=16)
def _load_hub(name: str) -> dict[str, list[Item]]:
    hub = _REGISTRY[name].hub
    try:
        return without_test_questions(hub.load())
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise TaskError(f"task {name}: unexpected rows from {hub.url} ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # offline, not found, gated: the hub's errors have no common base class
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TaskError(
            f"task {name}: could not get {hub.url} from the Hugging Face hub ({first}); without network, "
            f"pass --data-dir DIR or set {DATA_ENV} to a folder with the authors' files"
        ) from None


_REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name} registered twice")
    if spec.kind not in KINDS:
        raise ValueError(f"task {spec.name}: kind must be one of {KINDS}")
    _REGISTRY[spec.name] = spec
    return spec


def all_tasks() -> dict[str, TaskSpec]:
    _load_sources()
    return dict(_REGISTRY)


def get_task(name: str) -> TaskSpec:
    tasks = all_tasks()
    if name not in tasks:
        close = difflib.get_close_matches(name, tasks, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise TaskError(f"unknown task {name!r}; {hint}`steer-eval tasks` lists the {len(tasks)} known tasks")
    return tasks[name]


def as_selector(name: str) -> str | None:
    """The registry selector (task name, family, kind or group) that `name` means, also when given as our
    lm-eval name (`se_mmlu` -> `mmlu`); None for a name the registry does not know."""
    known = {s for spec in all_tasks().values() for s in (spec.name, spec.family, spec.kind, *spec.groups)}
    for candidate in (name, name.removeprefix("se_")):
        if candidate in known:
            return candidate
    return None


def select_tasks(selectors: Sequence[str]) -> list[TaskSpec]:
    """Tasks named by task names, families, kinds (`behavior`, `intelligence`) or groups, in registry
    order, without duplicates."""
    tasks = all_tasks()
    chosen: dict[str, TaskSpec] = {}
    for selector in selectors:
        matches = [
            spec
            for spec in tasks.values()
            if selector in (spec.name, spec.family, spec.kind) or selector in spec.groups
        ]
        if not matches:
            get_task(selector)  # raises with suggestions
        for spec in matches:
            chosen.setdefault(spec.name, spec)
    return list(chosen.values())


def load_split(name: str, split: str, data_dir: str | Path | None = None) -> list[Item]:
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
    items = get_task(name).load(data_dir).get(split, [])
    if not items:
        raise TaskError(f"task {name} has no items in its {split} split")
    return items


def _data_dir_or_none(data_dir: str | Path | None) -> Path | None:
    chosen = data_dir or os.environ.get(DATA_ENV)
    return Path(chosen).expanduser() if chosen else None


def resolve_data_dir(data_dir: str | Path | None, spec: TaskSpec) -> Path:
    folder = _data_dir_or_none(data_dir)
    if folder is None:
        raise TaskError(
            f"task {spec.name} reads {', '.join(spec.data_files)} from a local data folder; pass --data-dir DIR "
            f"or set {DATA_ENV} (a folder holding the datasets as their authors distribute them)"
        )
    if not folder.is_dir():
        raise TaskError(f"data folder {folder} does not exist; pass --data-dir DIR or set {DATA_ENV}")
    return folder


def _load_sources() -> None:
    # Importing a source module registers its tasks.
    from steer_eval.tasks.sources import (  # noqa: F401
        anthropic,
        arc,
        bbq,
        caa,
        caa_open,
        demo,
        ethics,
        gsm8k,
        hellaswag,
        lsat,
        mmlu,
        openbookqa,
        refusal,
        sst2,
        truthfulqa,
    )
