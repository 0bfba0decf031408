"""The bookkeeping of a sweep: many settings (strengths, vectors, layers, the unsteered baseline) scored
on the same log-likelihood requests in one pass over the batches.

Generation sweeps keep texts instead: the first cell's generation requests are answered for every setting
at once (each setting on its own rows of a batch: steering/generation.py), and later cells are served here.

The runner announces the settings of a task's cells (`SteerEvalLM.plan_sweep`), then evaluates the cells
one by one through lm-eval as usual. The first cell's requests are scored for every setting at once (one
unsteered pass per batch, then a replay from each setting's first steered block: see prefix.py); the
results wait here, keyed by the request tokens, and later cells are served from them. A setting's results
are handed out once and then dropped, so memory stays at one float and one flag per request and setting.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from steer_eval.steering.interventions import Intervention

RequestKey = tuple[tuple[int, ...], tuple[int, ...]]
TextKey = tuple[str, str]  # (context, generation settings as sorted JSON)


def request_key(context: Sequence[int], continuation: Sequence[int]) -> RequestKey:
    return tuple(context), tuple(continuation)


@dataclass
class Sweep:
    """Settings announced for the coming requests, and the scores computed but not yet handed out."""

    settings: dict[Hashable, list[Intervention]]
    served: set[Hashable] = field(default_factory=set)
    _index: dict[RequestKey, int] = field(default_factory=dict)
    _scores: dict[Hashable, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _texts: dict[Hashable, dict[TextKey, list[str]]] = field(default_factory=dict)  # sampled: several per key
    checkpoint: Path | None = None  # where the scoring's progress is kept (checkpoint.py); None: memory only
    seed: int | None = None  # the run's seed: sampled generation draws from it per batch (None: torch's state)

    @classmethod
    def of(cls, settings: Mapping[Hashable, Sequence[Intervention]]) -> Sweep:
        return cls({key: list(interventions) for key, interventions in settings.items()})

    def pending(self) -> list[tuple[Hashable, list[Intervention]]]:
        """Settings not handed out yet, in the order they were announced."""
        return [(key, ivs) for key, ivs in self.settings.items() if key not in self.served]

    @staticmethod
    def first_block(interventions: Sequence[Intervention]) -> int | None:
        """The earliest block a setting steers (None: unsteered)."""
        return min((i.key.layer for i in interventions), default=None)

    def store(self, keys: list[RequestKey], scores: Mapping[Hashable, list[tuple[float, bool]]]) -> None:
        """Keep `scores[setting][i]` for request `keys[i]`; replaces whatever an earlier request set left."""
        self._index = {key: i for i, key in enumerate(keys)}
        self._scores = {
            setting: (np.array([s[0] for s in values], dtype=np.float64), np.array([s[1] for s in values], dtype=bool))
            for setting, values in scores.items()
        }

    def serve(self, setting: Hashable, keys: list[RequestKey]) -> list[tuple[float, bool]] | None:
        """The stored scores of `setting` for these requests (then forgotten), or None if any is missing."""
        if setting not in self._scores or any(key not in self._index for key in keys):
            return None
        logliks, greedy = self._scores.pop(setting)
        self.served.add(setting)
        positions = [self._index[key] for key in keys]
        return [(float(logliks[p]), bool(greedy[p])) for p in positions]

    def store_texts(self, setting: Hashable, texts: Sequence[tuple[TextKey, str]]) -> None:
        """Keep generations of `setting`; a request asked several times (sampling) keeps one text per ask."""
        stored = self._texts.setdefault(setting, {})
        for key, text in texts:
            stored.setdefault(key, []).append(text)

    def serve_texts(self, setting: Hashable, keys: list[TextKey]) -> list[str] | None:
        """The stored generations of `setting` for these requests, in order (a key asked k times gets its k
        texts), then forgotten; None if any is missing."""
        stored = self._texts.get(setting, {})
        wanted: dict[TextKey, int] = {}
        for key in keys:
            wanted[key] = wanted.get(key, 0) + 1
        if any(len(stored.get(key, ())) < count for key, count in wanted.items()):
            return None
        self._texts.pop(setting)
        self.served.add(setting)
        taken: dict[TextKey, int] = {}
        out = []
        for key in keys:
            out.append(stored[key][taken.get(key, 0)])
            taken[key] = taken.get(key, 0) + 1
        return out
