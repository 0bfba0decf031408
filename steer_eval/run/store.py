"""The run store: a directory with `manifest.json` (provenance) and one JSON file per finished cell under
`cells/`, each written atomically when its cell finishes, so a run killed at any moment loses at most the
cells that were running; a re-run skips every cell whose file exists and is sound.

Integrity (issue 22): every cell carries `checksum`, the sha256 of its canonical JSON without that field,
written with it. A cell is sound when it parses as UTF-8 JSON, its checksum matches (cells written before
checksums have none and are checked by schema only) and it has the shape the analysis reads (`cell`, and
`records` whose every record has `item_id`). `problem(key)` says what is wrong with a cell that is not; the
main job recomputes such a cell, `analyze`, `report` and `check` refuse to read past it (load.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from steer_eval.atomic import atomic_path
from steer_eval.errors import SteerEvalError

MANIFEST = "manifest.json"
RUN_FORMAT = 1  # the manifest's `steer_eval_run`: a folder of a later format is refused, not misread
# what a run folder may hold before its manifest is written (recipe vectors are built first; shared writers)
OWN_ENTRIES = {MANIFEST, "cells", "claims", "partial", "vectors", ".steer-eval.lock"}
CELL_KEYS = ("task", "fewshot", "option_order", "vector", "alpha", "layer", "positions")  # what readers need


class RunStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.cells_dir = self.root / "cells"
        self.damaged_manifest = False  # found by `prepare`

    def prepare(
        self, model: str, revision: str | None, dtype: str | None = None, model_args: dict | None = None
    ) -> None:
        """Create the folder; refuse one that holds a run of another model, revision, dtype or model args: its
        cells would not compare, and the folder's results would describe only the last writer's grid."""
        previous = self.manifest()
        # a manifest that is there but unreadable (a disk filled mid-write, a hand edit) is this run's own: it
        # is rewritten as the run starts; cells keep their model and settings in their own keys
        self.damaged_manifest = previous is None and (self.root / MANIFEST).is_file()
        if previous is None and not self.damaged_manifest:
            self._refuse_foreign_folder()
        version = (previous or {}).get("steer_eval_run", 1)
        if not isinstance(version, int) or version > RUN_FORMAT:
            raise SteerEvalError(
                f"{self.root} was written by another steer-eval (run format {version!r}; this one writes "
                f"{RUN_FORMAT}); upgrade steer-eval, or use another --output folder"
            )
        if previous:
            before = previous.get("model") or {}
            if (before.get("name"), before.get("revision")) != (model, revision):
                raise SteerEvalError(
                    f"{self.root} holds a run of model {before.get('name')!r}"
                    + (f" at revision {before.get('revision')}" if before.get("revision") != revision else "")
                    + "; use another --output folder for another model"
                )
            settings = {"--dtype": ((previous.get("device") or {}).get("dtype"), dtype),
                        "--model-args": (before.get("model_args"), model_args)}  # fmt: skip
            for option, (was, now) in settings.items():
                if was is not None and now is not None and was != now:
                    raise SteerEvalError(
                        f"{self.root} holds a run with {option} {_words(was)}, and this one asks for {_words(now)}; "
                        "its cells would not compare: use another --output folder (or the same settings)"
                    )
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self.cells_dir, os.W_OK):
            raise SteerEvalError(f"{self.root} is not writable; give an --output folder you can write to")

    def _refuse_foreign_folder(self) -> None:
        """A folder with other things in it and no manifest is not a run folder: writing cells and results
        into it (a home folder, a data folder given by mistake) would mix them with what is there."""
        if not self.root.is_dir():
            return
        foreign = sorted(p.name for p in self.root.iterdir() if p.name not in OWN_ENTRIES)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise SteerEvalError(
                f"--output {self.root} is not a steer-eval run folder (no {MANIFEST}; it holds {shown}); give a new "
                "or empty folder, or an earlier run's folder to resume or extend it"
            )

    def manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None  # a manifest is rewritten at every start and end; a torn one is replaced

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        with atomic_path(self.root / MANIFEST) as tmp:
            Path(tmp).write_text(json.dumps(manifest, indent=2, default=str) + "\n")

    def cell_path(self, key: str) -> Path:
        return self.cells_dir / f"{key}.json"

    def done(self, key: str) -> bool:
        return self.read_cell(key) is not None

    def read_cell(self, key: str) -> dict[str, Any] | None:
        """The cell's content, or None when it is absent or not sound (`problem` says which)."""
        content, _ = self._read(key)
        return content

    def problem(self, key: str) -> str | None:
        """What is wrong with the cell file of `key`, or None when it is sound or absent."""
        _, problem = self._read(key)
        return problem

    def _read(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        path = self.cell_path(key)
        if not path.is_file():
            return None, None
        try:
            content = json.loads(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            return None, "not UTF-8"
        except json.JSONDecodeError:
            return None, "not complete JSON (truncated?)"
        except OSError as exc:
            return None, f"unreadable ({exc.strerror or exc})"
        problem = schema_problem(content)
        if problem is None and "checksum" in content and content["checksum"] != checksum(content):
            problem = "its content does not match its checksum (altered after it was written)"
        return (None, problem) if problem else (content, None)

    def write_cell(self, key: str, content: dict[str, Any]) -> None:
        content = json.loads(json.dumps(content, default=str))  # as it will read back
        content.pop("checksum", None)
        content["checksum"] = checksum(content)
        with atomic_path(self.cell_path(key)) as tmp:
            Path(tmp).write_text(json.dumps(content))

    def adopt(self, key: str, sources: list[RunStore]) -> bool:
        """Copy the finished cell `key` from the first source that holds it; False if none does."""
        for source in sources:
            content = source.read_cell(key)
            if content is not None and isinstance(content.get("records"), list):
                self.write_cell(key, content)
                return True
        return False


def _words(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    return str(value)


def checksum(content: dict[str, Any]) -> str:
    """sha256 of a cell's canonical JSON, its own `checksum` field left out."""
    body = {k: v for k, v in content.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def schema_problem(content: Any) -> str | None:
    """What keeps `content` from being a cell the analysis can read, or None."""
    if not isinstance(content, dict) or not isinstance(content.get("cell"), dict):
        return "no `cell` description"
    missing = [key for key in CELL_KEYS if key not in content["cell"]]
    if missing or not isinstance(content["cell"].get("task"), dict) or "name" not in content["cell"]["task"]:
        return f"its description lacks {', '.join(missing) or 'the task name'}"
    records = content.get("records")
    if not isinstance(records, list):
        return "no `records` list"
    for index, record in enumerate(records):
        if not isinstance(record, dict) or "item_id" not in record:
            return f"record {index} has no `item_id`"
    return None


def stale(content: dict[str, Any], manifest: dict[str, Any]) -> bool:
    """A cell of a vector whose file was since rebuilt under the same name: the folder's manifest names the
    vector's current content, and this cell measured an earlier one (it stays on disk, out of the results)."""
    vector = (content.get("cell") or {}).get("vector")
    if not isinstance(vector, dict) or vector.get("members"):  # a combination's label names its members, and
        return False  # one label may stand for several member layers: it is not a file that can be rebuilt
    entry = (manifest.get("vectors") or {}).get(vector.get("label"))
    return isinstance(entry, dict) and entry.get("sha256") not in (None, vector.get("sha256"))


def current_cells(store: RunStore, manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(key, content) of every sound, current cell of the folder's grid (the union of its writers' grids)."""
    out = []
    for key in manifest["grid"]["cells"]:
        content = store.read_cell(key)
        if content is not None and not stale(content, manifest):
            out.append((key, content))
    return out


def stores_under(paths: list[Path]) -> list[RunStore]:
    """Every run store in or below `paths` (a run folder, or a folder of them such as a check's --output)."""
    found: dict[Path, RunStore] = {}
    for path in paths:
        path = Path(path)
        if path.is_file():  # a results.json: its run folder
            path = path.parent
        if not path.is_dir():
            raise SteerEvalError(f"--reuse: {path} is not a folder (give a run folder or a folder of them)")
        for cells in sorted(path.rglob("cells")):  # includes path/cells itself
            if cells.is_dir():
                found.setdefault(cells.parent.resolve(), RunStore(cells.parent))
    return list(found.values())
