"""Progress inside a log-likelihood sweep, persisted (issue 22, preemption): a sweep scores one task's
requests under every setting of a prefix group at once, and its cells are written only when it ends, so on a
real model one group is hours of work that a kill would throw away. The requests are split into fixed
segments (sorted by length, so each segment batches as the whole would); after each segment the scores so far
are kept in memory, and written to the group's checkpoint file at most every CHECKPOINT_SECONDS (and at once
when the run is stopped: Ctrl-C, SIGTERM, SIGHUP). A resumed
sweep of the same requests and settings (or fewer settings: cells written before the kill) reads the file and
scores only the segments it lacks. The segments are fixed by the requests and the batch size, so every batch
of a resumed sweep is the batch the uninterrupted sweep ran: the same numbers, bit for bit. A resumed sweep
keeps the file's segments even when its batch size differs (`--batch-size auto` finding less free memory
after a restart, or a smaller size chosen after running out of it): its batches then differ, so its scores
differ from the uninterrupted sweep's at rounding level, but no finished segment is scored again.

The file (safetensors, no pickle): `done` (one flag per segment) and per setting `loglik.J` / `greedy.J`,
with the request fingerprint and setting keys in its metadata. The runner names it per prefix group and
removes it once the group's cells are written (run/execute.py). Generation sweeps keep their texts the same
way (text_checkpoint.py)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np
import torch

from steer_eval.atomic import atomic_path

# the most finished scoring a kill throws away, give or take one segment; STEER_EVAL_CHECKPOINT_SECONDS sets it
CHECKPOINT_SECONDS = 30.0
SEGMENT_BATCHES = 4  # batches per segment: small enough to checkpoint often, large enough to batch well


def checkpoint_seconds() -> float:
    try:
        return float(os.environ.get("STEER_EVAL_CHECKPOINT_SECONDS", CHECKPOINT_SECONDS))
    except ValueError:
        return CHECKPOINT_SECONDS


def fingerprint(keys: Sequence) -> str:
    """The requests a sweep scores, in order: a resumed sweep must score exactly these."""
    return hashlib.sha256(repr(list(keys)).encode()).hexdigest()


def segment_size(path: Path | None, keys: Sequence, batch_size: int) -> int:
    """Requests per segment: the checkpoint's, when `path` holds one of these requests (a resumed sweep keeps its
    segments whatever its batch size now), else SEGMENT_BATCHES batches."""
    if path is not None and path.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
            if meta.get("requests") == fingerprint(keys) and int(meta.get("segment_size", 0)) > 0:
                return int(meta["segment_size"])
        except Exception:  # a damaged checkpoint: SweepProgress ignores it too
            pass
    return max(1, SEGMENT_BATCHES * batch_size)


def segments_of(requests: Sequence, size: int) -> list[list[int]]:
    """Fixed segments of `size` request indices, longest first (as lm-eval's Collator orders them)."""
    order = sorted(range(len(requests)), key=lambda i: (-len(requests[i][1] + requests[i][2]),
                                                         tuple(requests[i][1] + requests[i][2])))  # fmt: skip
    return [order[start : start + size] for start in range(0, len(order), size)]


def rank_path(path: Path | None, rank: int, world_size: int) -> Path | None:
    """Where one rank of a data-parallel run keeps the progress of its share of a sweep."""
    if path is None or world_size <= 1:
        return path
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


class ThrottledWrites:
    """A checkpoint written as work is added, at most every `checkpoint_seconds()`, and at once on `flush()`
    (a stopped sweep: Ctrl-C, SIGTERM), so the resumed run keeps it. Subclasses say what is unwritten and
    write it, calling `_wrote()` once it is on disk."""

    path: Path | None
    _written: float = 0.0

    def _unwritten_work(self) -> bool:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError

    def _wrote(self) -> None:
        self._written = time.monotonic()

    def _write_if_due(self) -> None:
        if self.path is not None and time.monotonic() - self._written >= checkpoint_seconds():
            self.write()

    def flush(self) -> None:
        if self.path is not None and self._unwritten_work():
            self.write()


class SweepProgress(ThrottledWrites):
    """The scores of one sweep so far, per setting and request, and which segments they cover."""

    def __init__(self, path: Path | None, keys: Sequence, settings: list[Hashable], segments: list[list[int]]):
        self.path, self.settings, self.segments = path, settings, segments
        self.requests = fingerprint(keys)
        n = len(keys)
        self.logliks = {s: np.zeros(n, dtype=np.float64) for s in settings}
        self.greedy = {s: np.zeros(n, dtype=bool) for s in settings}
        self.done = np.zeros(len(segments), dtype=bool)
        self._wrote()
        self._unsaved = False
        self.restored = 0  # segments read back from the file
        if path is not None and path.is_file():
            self._restore(path)

    def _restore(self, path: Path) -> None:
        """Read a checkpoint of the same requests and segments that covers every setting asked for; any other
        file (another grid, a torn write, another version) is ignored and later replaced."""
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
                saved = json.loads(meta.get("settings", "[]"))
                if meta.get("requests") != self.requests or int(meta.get("segments", -1)) != len(self.segments):
                    return
                index = {key: j for j, key in enumerate(saved)}
                if any(str(s) not in index for s in self.settings):
                    return
                done = handle.get_tensor("done").numpy().astype(bool)
                for setting in self.settings:
                    j = index[str(setting)]
                    self.logliks[setting] = handle.get_tensor(f"loglik.{j}").numpy().astype(np.float64)
                    self.greedy[setting] = handle.get_tensor(f"greedy.{j}").numpy().astype(bool)
        except Exception:  # a damaged checkpoint only costs the work it held
            return
        self.done = done
        self.restored = int(done.sum())

    def missing(self) -> list[int]:
        """Indices of the segments still to score."""
        return [i for i, done in enumerate(self.done) if not done]

    def add(self, segment: int, answers: dict[Hashable, list[tuple[float, bool]]]) -> None:
        """Keep one segment's answers (per setting, in the segment's order); write the file when it is due."""
        rows = self.segments[segment]
        for setting in self.settings:
            values = answers[setting]
            self.logliks[setting][rows] = [value[0] for value in values]
            self.greedy[setting][rows] = [value[1] for value in values]
        self.done[segment] = True
        self._unsaved = True
        self._write_if_due()

    def _unwritten_work(self) -> bool:
        return self._unsaved

    def write(self) -> None:
        from safetensors.torch import save_file

        tensors = {"done": torch.from_numpy(self.done.astype(np.uint8))}
        for j, setting in enumerate(self.settings):
            tensors[f"loglik.{j}"] = torch.from_numpy(self.logliks[setting])
            tensors[f"greedy.{j}"] = torch.from_numpy(self.greedy[setting].astype(np.uint8))
        meta = {"requests": self.requests, "segments": str(len(self.segments)),
                "segment_size": str(max(len(rows) for rows in self.segments)),
                "settings": json.dumps([str(s) for s in self.settings])}  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_path(self.path) as tmp:
                save_file(tensors, str(tmp), metadata=meta)
        except FileNotFoundError:  # another writer of a shared folder finished the group and cleared its files:
            return  # this write is not needed (the next one, if any, tries again)
        self._unsaved = False
        self._wrote()

    def results(self) -> dict[Hashable, list[tuple[float, bool]]]:
        return {s: list(zip(self.logliks[s].tolist(), self.greedy[s].tolist(), strict=True)) for s in self.settings}
