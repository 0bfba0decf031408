"""Progress inside a generation sweep, persisted (issue 22's preemption, for free text): a generation sweep
writes its cells only when every setting's texts are in, and on a real model that is hours of decoding a kill
would throw away. Its work comes in fixed units (one batch of prompts under one pass of settings:
steering/generation.py); after each unit its texts are kept, and appended to the group's checkpoint at most
every CHECKPOINT_SECONDS (and at once when the run is stopped: Ctrl-C, SIGTERM, SIGHUP). A resumed sweep of
the same requests reads the file and decodes only the units it lacks. It keeps the file's units even when its
batch size differs (`--batch-size auto` finding less free memory after a restart, or a smaller size chosen
after running out of it), decoding a unit in batches of its own size: no finished unit is decoded again.
Sampled decoding draws from a generator seeded per unit from the run's seed, so a resumed sweep's texts are
the uninterrupted sweep's, draws included (unless the resumed sweep has fewer settings, e.g. a writer taking
over another's cells in a shared folder, or decodes its units in smaller batches: then a pass's rows, and so
its draws, differ; they are still draws of the same decoding).

The file is JSON lines (texts are strings; no pickle): a header with the request fingerprint and the prompts
per unit, then one line
per unit with each of its settings' texts. Lines are appended, so a write costs what the new units hold, not
the whole sweep; a line torn by a kill is ignored. The file sits beside the scoring checkpoint
(checkpoint.py), named after it, and the runner removes both once the group's cells are written
(run/execute.py)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from pathlib import Path

from steer_eval.atomic import atomic_path
from steer_eval.steering.checkpoint import ThrottledWrites, fingerprint

VERSION = 3


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def texts_path(checkpoint: Path) -> Path:
    """The generation checkpoint beside a group's scoring checkpoint (same stem: cleared with it)."""
    return checkpoint.with_name(f"{checkpoint.stem}.texts.jsonl")


class TextProgress(ThrottledWrites):
    """The texts of one generation sweep read back from its checkpoint, and those not written yet."""

    def __init__(self, path: Path | None, requests: Sequence, settings: Sequence[Hashable], unit_rows: int):
        self.path = path
        self.requests = fingerprint(requests)
        self.unit_rows = unit_rows  # prompts per unit: the file's, when it is read back
        self.settings = [str(s) for s in settings]
        self.kept: dict[str, dict[str, list[str]]] = {}  # unit -> setting -> texts, read back from the file
        self._unwritten: list[str] = []  # JSON lines of units decoded since the last write
        self._header_written = False  # the file on disk is this sweep's (else the first write starts it anew)
        self._torn = False
        self._wrote()
        self.restored = 0  # units read back whose texts cover every setting
        if path is not None and path.is_file():
            self._restore(path)

    def _restore(self, path: Path) -> None:
        """Read a checkpoint of the same requests; another file (another grid or version, a foreign file) is
        ignored and later replaced; a line torn by a kill, or not of the expected shape, is skipped."""
        try:
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            header = json.loads(lines[0]) if lines else {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return
        if not isinstance(header, dict) or header.get("version") != VERSION or header.get("requests") != self.requests:
            return
        if not isinstance(header.get("unit_rows"), int) or header["unit_rows"] < 1:
            return
        self.unit_rows = header["unit_rows"]
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                unit, texts = str(entry["unit"]), entry["texts"]
                rows = {
                    str(s): t for s, t in texts.items() if isinstance(t, list) and all(isinstance(x, str) for x in t)
                }
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                continue
            self.kept.setdefault(unit, {}).update(rows)
        self._header_written = True
        self._torn = not text.endswith("\n")  # a kill mid-append: the next line must not continue that one
        self.restored = sum(all(s in texts for s in self.settings) for texts in self.kept.values())

    def get(self, unit: str, settings: Sequence[Hashable], rows: int) -> list[list[str]] | None:
        """The kept texts of `unit` for each of `settings` (in order), or None if any is missing."""
        kept = self.kept.get(unit, {})
        texts = [kept.get(str(s)) for s in settings]
        if any(t is None or len(t) != rows for t in texts):
            return None
        return texts  # type: ignore[return-value]

    def add(self, unit: str, texts: dict[Hashable, list[str]]) -> None:
        """Keep one unit's texts per setting; write them when a write is due."""
        entry = {"unit": unit, "texts": {str(s): list(rows) for s, rows in texts.items()}}
        self._unwritten.append(json.dumps(entry, ensure_ascii=False))
        self._write_if_due()

    def _unwritten_work(self) -> bool:
        return bool(self._unwritten)

    def write(self) -> None:
        lines = "".join(f"{line}\n" for line in self._unwritten)
        try:
            if self._header_written and self.path.is_file():
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(("\n" if self._torn else "") + lines)
                self._torn = False
            else:  # a new file: another grid's, or none (a writer sharing the folder may have cleared it)
                header = json.dumps({"version": VERSION, "requests": self.requests, "unit_rows": self.unit_rows})
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(self.path) as tmp:
                    Path(tmp).write_text(f"{header}\n{lines}", encoding="utf-8")
                self._header_written = True
        except FileNotFoundError:  # another writer of a shared folder finished the group and cleared its files
            return
        self._unwritten.clear()
        self._wrote()
