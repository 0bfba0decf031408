"""Progress inside a generation sweep, persisted (issue 22's preemption, for free text): a generation sweep
writes its cells only when every setting's texts are in, and on a real model that is hours of decoding a kill
would throw away. Its work comes in fixed units (one batch of prompts under one pass of settings:
steering/generation.py); after each unit the texts so far are kept in memory, and written to the group's
checkpoint at most every CHECKPOINT_SECONDS (and at once when the run is stopped: Ctrl-C, SIGTERM, SIGHUP).
A resumed sweep of the same requests, batch size and settings (or fewer: cells written before the kill) reads
the file and decodes only the batches it lacks. Sampled decoding draws from a generator seeded per unit, so a
resumed sweep's texts are the uninterrupted sweep's, draws included.

The file is JSON (texts are strings; no pickle): the request fingerprint, and per setting the texts of each
batch it finished. It sits beside the scoring checkpoint (checkpoint.py), named after it, and the runner
removes both once the group's cells are written (run/execute.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Sequence
from pathlib import Path

from steer_eval.atomic import atomic_path
from steer_eval.steering.checkpoint import checkpoint_seconds, fingerprint

VERSION = 1


def texts_path(checkpoint: Path) -> Path:
    """The generation checkpoint beside a group's scoring checkpoint (same stem: cleared with it)."""
    return checkpoint.with_name(f"{checkpoint.stem}.texts.json")


class TextProgress:
    """The texts of one generation sweep so far: per setting, per batch (`unit`), in the batch's order."""

    def __init__(self, path: Path | None, requests: Sequence, settings: Sequence[Hashable]):
        self.path = path
        self.requests = fingerprint(requests)
        self.settings = [str(s) for s in settings]
        self.texts: dict[str, dict[str, list[str]]] = {s: {} for s in self.settings}
        self._written = time.monotonic()
        self._unsaved = False
        self.restored = 0  # batches read back whose texts cover every setting
        if path is not None and path.is_file():
            self._restore(path)

    def _restore(self, path: Path) -> None:
        """Read a checkpoint of the same requests; any other file (another grid, a damaged or foreign file) is
        ignored and later replaced. Settings the file lacks are decoded afresh."""
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("version") != VERSION or saved.get("requests") != self.requests:
                return
            texts = saved["texts"]
            restored = {
                setting: {str(unit): [str(t) for t in rows] for unit, rows in texts[setting].items()}
                for setting in self.settings
                if isinstance(texts.get(setting), dict)
            }
        except Exception:  # a damaged checkpoint only costs the work it held
            return
        self.texts.update(restored)
        units = set.intersection(*(set(self.texts[s]) for s in self.settings)) if self.settings else set()
        self.restored = len(units)

    def get(self, unit: str, settings: Sequence[Hashable], rows: int) -> list[list[str]] | None:
        """The kept texts of `unit` for each of `settings` (in order), or None if any is missing."""
        kept = [self.texts[str(s)].get(unit) for s in settings]
        if any(texts is None or len(texts) != rows for texts in kept):
            return None
        return kept  # type: ignore[return-value]

    def add(self, unit: str, texts: dict[Hashable, list[str]]) -> None:
        """Keep one unit's texts per setting; write the file when it is due."""
        for setting, rows in texts.items():
            self.texts[str(setting)][unit] = list(rows)
        self._unsaved = True
        if self.path is not None and time.monotonic() - self._written >= checkpoint_seconds():
            self.write()

    def flush(self) -> None:
        """Write what is not on disk yet (a stopped sweep), so the resumed run keeps it."""
        if self.path is not None and self._unsaved:
            self.write()

    def write(self) -> None:
        payload = {"version": VERSION, "requests": self.requests, "texts": self.texts}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_path(self.path) as tmp:
                Path(tmp).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        except FileNotFoundError:  # another writer of a shared folder finished the group and cleared its files
            return
        self._written, self._unsaved = time.monotonic(), False
