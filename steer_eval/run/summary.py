"""Per-cell aggregates of a finished run (accuracy, mean propensity, n), written as `cells.csv`. The paired
statistics and verdicts are the analysis stage's job (analysis/)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from steer_eval.atomic import atomic_path

COLUMNS = (
    "task",
    "kind",
    "vector",
    "control_of",
    "alpha",
    "layer",
    "positions",
    "fewshot",
    "option_order",
    "template",
    "pressure",
    "turns",
    "arm",
    "n",
    "accuracy",
    "mean_propensity",
)


def cell_rows(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for content in cells:
        cell, records = content["cell"], content["records"]
        correct = [r["correct"] for r in records if r.get("correct") is not None]
        propensity = [r["propensity"] for r in records if r.get("propensity") is not None]
        vector = cell["vector"]
        rows.append(
            {
                "task": cell["task"]["name"],
                "kind": cell["task"]["kind"],
                "vector": "(none)" if vector is None else vector["label"],
                "control_of": "" if vector is None else (vector.get("control_of") or ""),
                "alpha": cell["alpha"],
                "layer": "" if cell["layer"] is None else cell["layer"],
                "positions": cell["positions"] or "",
                "fewshot": cell["fewshot"],
                "option_order": cell["option_order"],
                "template": cell.get("template") or 0,
                "pressure": cell.get("pressure") or "",
                "turns": cell.get("turns") or 0,
                "arm": _arm(cell.get("arm")),
                "n": len(records),
                "accuracy": sum(correct) / len(correct) if correct else "",
                "mean_propensity": sum(propensity) / len(propensity) if propensity else "",
            }
        )
    return rows


def _arm(arm: dict | None) -> str:
    if not arm:
        return ""
    return f"prompt:{arm['name']}" if arm.get("kind") == "prompt" else f"fewshot:{arm.get('shots')}"


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
