"""Distribution shift (issue 18): which task each vector was trained on, from the training record the run's
manifest holds, so its cells on that task are told apart from transfer cells (`in_distribution` in
effects.csv), and the transfer matrix (training task x evaluation task) of effects."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from steer_eval.analysis.load import CellData


def in_distribution(manifest: dict, cells: list[CellData]) -> dict[str, dict[str, bool | None]]:
    """Vector label -> {cell task -> True on its training task, False on another}; tasks of vectors that
    record no training task (imported, placebos, combinations) are left out (unknown)."""
    vectors = manifest.get("vectors") or {}
    out: dict[str, dict[str, bool | None]] = {}
    for cell in cells:
        if cell.vector is None or cell.control_of is not None:
            continue
        label = cell.vector.split("+prompt:")[0] if cell.arm else cell.vector
        trained = ((vectors.get(label) or {}).get("trained_on") or {}).get("task")
        if trained:
            out.setdefault(cell.vector, {})[cell.task] = trained in (cell.registry, cell.task)
    return out


def transfer_rows(effects: pd.DataFrame, manifest: dict) -> list[dict[str, Any]]:
    """One row per (vector, evaluation task) of the main view: the vector's training task, whether the cell
    is in distribution, and its effect at the vector's selected strength (else its strongest helping cell)."""
    from steer_eval.analysis.views import main

    vectors = manifest.get("vectors") or {}
    rows = []
    shown = effects[main(effects) & ~effects["is_control"].astype(bool) & effects["arm"].isna()]
    for (vector, task), group in shown.groupby(["vector", "task"], sort=False):
        trained = ((vectors.get(vector) or {}).get("trained_on") or {}).get("task")
        if not trained:
            continue
        picked = group[group["selected"].fillna(False).astype(bool)]
        if picked.empty:
            picked = group.loc[[(group["desired_sign"] * group["delta"].fillna(-math.inf)).idxmax()]]
        row = picked.iloc[0]
        rows.append(
            {
                "vector": vector,
                "trained_on": trained,
                "task": task,
                "in_distribution": bool(row["in_distribution"]) if pd.notna(row["in_distribution"]) else None,
                "alpha": float(row["alpha"]),
                "delta": float(row["delta"]) if pd.notna(row["delta"]) else None,
                "ci_low": float(row["ci_low"]) if pd.notna(row["ci_low"]) else None,
                "ci_high": float(row["ci_high"]) if pd.notna(row["ci_high"]) else None,
                "verdict": row["verdict"],
            }
        )
    return rows
