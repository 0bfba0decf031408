"""What `steer-eval tasks` shows: every task with its kind, family, desired answer, split sizes, licence,
source and whether its data files are present."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steer_eval.tasks.lmeval_adapter import lmeval_name
from steer_eval.tasks.registry import DATA_ENV, TaskError, all_tasks, select_tasks


def catalog(
    data_dir: str | Path | None = None, selectors: Sequence[str] | None = None, sizes: bool = True
) -> list[dict[str, Any]]:
    specs = select_tasks(selectors) if selectors else list(all_tasks().values())
    rows = []
    for spec in specs:
        missing = spec.missing_files(data_dir)
        row: dict[str, Any] = {
            "name": spec.name,
            "lm_eval_task": lmeval_name(spec),
            "kind": spec.kind,
            "family": spec.family,
            "output": spec.output,
            "scorer": spec.scorer,  # generation tasks: what reads the behaviour from the text
            "prompts": [{"name": name, "text": text} for name, text in spec.prompts],  # rival instructions
            "desired": spec.desired,
            "target_is_desired": spec.target_is_desired,
            "licence": spec.licence,
            "source": spec.source,
            "data": _availability(spec, missing),
            "missing_files": missing,
            "sizes": None,
        }
        if sizes and row["data"] in ("present", "built in"):
            try:
                row["sizes"] = {split: len(items) for split, items in spec.load(data_dir).items()}
            except TaskError as exc:
                row["data"] = f"unreadable: {exc}"
        rows.append(row)
    return rows


def render_catalog(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'task':<44} {'kind':<12} {'family':<11} {'train/val/test':<18} {'data':<9} licence"]
    for row in rows:
        sizes = row["sizes"]
        size = "/".join(str(sizes.get(s, 0)) for s in ("train", "validation", "test")) if sizes else "-"
        lines.append(
            f"{row['name']:<44} {row['kind']:<12} {row['family']:<11} {size:<18} {row['data']:<9} {row['licence']}"
        )
    missing = sum(row["data"] == "missing" for row in rows)
    lines.append("")
    lines.append(f"{len(rows)} tasks; `--json` adds the desired answer, source and lm-eval name of each.")
    if missing:
        lines.append(
            f"{missing} task(s) lack their data: pass --data-dir DIR or set {DATA_ENV} to a folder laid out as the "
            "datasets' authors distribute them (see docs/tasks.md)"
        )
    if any(row["data"] == "hub" for row in rows):
        lines.append("'hub': no local files; the data is downloaded from the Hugging Face hub on first use")
    return "\n".join(lines)


def _availability(spec, missing: list[str]) -> str:
    if spec.builtin:
        return "built in"
    if spec.data_files and not missing:
        return "present"
    return "hub" if spec.hub is not None else "missing"
