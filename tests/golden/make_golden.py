"""Regenerate tests/golden/tasks.json: the first item of each split of every data-backed task, rendered.
Run after a deliberate change to a loader or a layout, and read the diff before committing it:
    python tests/golden/make_golden.py"""

from __future__ import annotations

import json
from pathlib import Path

from steer_eval.tasks import all_tasks
from steer_eval.tasks.items import MCItem

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def render(item) -> dict:
    if isinstance(item, MCItem):
        return {"id": item.id, "prompt": item.prompt, "continuations": list(item.continuations), "target": item.target}
    return {"id": item.id, "prompt": item.prompt, "reference": item.reference}


def golden() -> dict:
    out = {}
    for name, spec in sorted(all_tasks().items()):
        if not spec.data_files:  # built in (demo) or hub only
            continue
        splits = spec.load(DATA)
        out[name] = {
            "counts": {split: len(items) for split, items in splits.items()},
            "first": {split: render(items[0]) for split, items in splits.items() if items},
        }
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("tasks.json")
    path.write_text(json.dumps(golden(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}")
