"""The run store: a directory with `manifest.json` (provenance) and one JSON file per finished cell under
`cells/`, each written atomically when its cell finishes, so a run killed at any moment loses at most the
cells that were running; a re-run skips every cell whose file exists and is readable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from steer_eval.atomic import atomic_path
from steer_eval.errors import SteerEvalError

MANIFEST = "manifest.json"


class RunStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.cells_dir = self.root / "cells"

    def prepare(self, model: str, revision: str | None) -> None:
        """Create the folder; refuse one that holds a run of another model (its cells would not compare)."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        previous = self.manifest()
        if previous and (previous.get("model", {}).get("name"), previous.get("model", {}).get("revision")) != (
            model,
            revision,
        ):
            raise SteerEvalError(
                f"{self.root} holds a run of model {previous['model'].get('name')!r}; use another --output "
                "folder for another model"
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
        path = self.cell_path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # cannot happen with atomic writes, but a hand-damaged file is recomputed

    def write_cell(self, key: str, content: dict[str, Any]) -> None:
        with atomic_path(self.cell_path(key)) as tmp:
            Path(tmp).write_text(json.dumps(content, default=str))

    def adopt(self, key: str, sources: list[RunStore]) -> bool:
        """Copy the finished cell `key` from the first source that holds it; False if none does."""
        for source in sources:
            content = source.read_cell(key)
            if content is not None and isinstance(content.get("records"), list):
                self.write_cell(key, content)
                return True
        return False


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
