"""Interactions of vectors applied together: for a combination cell (every vector at once, `--combine`),
the combined effect against the sum of the single vectors' effects at the same strength, per item:
I_i = (combined_i - baseline_i) - sum_k (single_k,i - baseline_i). Mean, t interval and Wilcoxon p-value
(paired_continuous): I > 0 means the vectors do more together than apart, I < 0 that they interfere."""

from __future__ import annotations

from typing import Any

import numpy as np

from steer_eval.analysis.load import CellData, check_paired
from steer_eval.analysis.stats import paired_continuous


def interaction_rows(cells: list[CellData], baselines: dict, level: float) -> list[dict[str, Any]]:
    singles = {
        (c.vector_sha, c.task, c.alpha, c.positions, c.fewshot, c.option_order): c
        for c in cells
        if c.vector is not None and not c.members and c.control_of is None
    }
    rows = []
    for combo in cells:
        if not combo.members:
            continue
        base = baselines.get(combo.group)
        parts = [
            singles.get((sha, combo.task, combo.alpha, combo.positions, combo.fewshot, combo.option_order))
            for sha in combo.members
        ]
        if base is None or any(p is None for p in parts) or np.isnan(combo.correct).any():
            continue
        for part in parts:
            check_paired(base, part)
        check_paired(base, combo)
        summed = sum(part.correct - base.correct for part in parts)
        effect = paired_continuous(summed, combo.correct - base.correct, level)
        rows.append(
            {
                "task": combo.task,
                "combination": combo.vector,
                "alpha": combo.alpha,
                "fewshot": combo.fewshot,
                "option_order": combo.option_order,
                "n": len(combo.item_ids),
                "combined_delta": float((combo.correct - base.correct).mean()),
                "sum_of_singles": float(summed.mean()),
                "interaction": effect.delta,
                "ci_low": effect.ci_low,
                "ci_high": effect.ci_high,
                "p_value": effect.p_value,
            }
        )
    return rows
