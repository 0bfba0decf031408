"""Heterogeneity across conditions (issue 18), tested rather than eyeballed: for each vector setting (strength,
layer, positions) and each condition factor the run varied (template, pressure, turns), whether the paired
effect differs between the factor's levels.

The unit is the item: its paired difference (steered minus the unsteered baseline under the same level) at
each level. A repeated-measures ANOVA (statsmodels `AnovaRM`: item as subject, level as the within factor) tests
the level x steering interaction on the items measured at every level. Each row also gives the effect per level,
its range and the worst level (the least wanted effect), and the share of the default level's effect kept at
the worst one. p-values are Holm-corrected over the rows (the placebo draws' rows on their own)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.multitest import multipletests

from steer_eval.analysis.effects import desired_sign
from steer_eval.analysis.load import CellData, check_paired
from steer_eval.conditions import FACTORS


def _level(cell: CellData, factor: str):
    """The cell's level of `factor`, or None when the cell varies another factor."""
    others = [f for f in FACTORS if f != factor]
    if any(getattr(cell, f) for f in others):
        return None
    value = getattr(cell, factor)
    return value if value else (0 if factor != "pressure" else "none")


def heterogeneity_rows(cells: list[CellData], baselines: dict) -> list[dict[str, Any]]:
    """One row per (task, vector setting, factor) with at least two levels."""
    grouped: dict[tuple, dict[str, dict]] = {}
    for cell in cells:
        if cell.vector is None or cell.option_order != 0 or cell.group not in baselines:
            continue
        for factor in FACTORS:
            level = _level(cell, factor)
            if level is None:
                continue
            key = (cell.task, cell.vector, cell.alpha, cell.layer, cell.positions, cell.fewshot, factor)
            grouped.setdefault(key, {})[level] = cell
    rows = []
    for (task, vector, alpha, layer, positions, fewshot, factor), by_level in grouped.items():
        if len(by_level) < 2:
            continue
        diffs = {}
        for level, cell in by_level.items():
            base = baselines[cell.group]
            check_paired(base, cell)
            diffs[level] = cell.correct - base.correct
        levels = sorted(diffs, key=lambda v: (isinstance(v, str) and v != "none", str(v).zfill(4)))
        measured = np.all([~np.isnan(diffs[v]) for v in levels], axis=0)
        if measured.sum() < 3:
            continue
        sign = desired_sign(next(iter(by_level.values())))
        means = {v: float(diffs[v][measured].mean()) for v in levels}
        worst = min(levels, key=lambda v: sign * means[v])
        default = 0 if factor != "pressure" else "none"
        rows.append(
            {
                "task": task,
                "vector": vector,
                "alpha": alpha,
                "layer": layer,
                "positions": positions,
                "fewshot": fewshot,
                "factor": factor,
                "levels": [str(v) for v in levels],
                "effects": [means[v] for v in levels],
                "n": int(measured.sum()),
                "range": max(means.values()) - min(means.values()),
                "worst_level": str(worst),
                "worst_effect": means[worst],
                "kept_at_worst": _kept(means.get(default), means[worst]),
                "p_value": _anova_p({v: diffs[v][measured] for v in levels}),
                "desired_sign": sign,
                "is_control": next(iter(by_level.values())).control_of is not None,
            }
        )
    for controls in (False, True):  # the placebo draws' rows are a family of their own, as in the effects
        family = [r for r in rows if r["is_control"] is controls and not math.isnan(r["p_value"])]
        if family:
            for row, q in zip(family, multipletests([r["p_value"] for r in family], method="holm")[1], strict=True):
                row["q_value"] = float(q)
    for row in rows:
        row.setdefault("q_value", math.nan)
    return rows


def _kept(default: float | None, worst: float) -> float:
    """The share of the default level's effect left at the worst level (nan without a default effect)."""
    if default is None or default == 0 or math.isnan(default):
        return math.nan
    return float(worst / default)


def _anova_p(diffs: dict) -> float:
    """The p-value of the level effect on the paired differences (items as subjects)."""
    frame = pd.DataFrame(
        [
            {"item": i, "level": str(level), "d": float(d)}
            for level, values in diffs.items()
            for i, d in enumerate(values)
        ]
    )
    if frame.groupby("level")["d"].var().fillna(0).eq(0).all() and frame.groupby("level")["d"].mean().nunique() == 1:
        return 1.0  # no variation at all: the levels cannot differ
    try:
        table = AnovaRM(frame, depvar="d", subject="item", within=["level"]).fit().anova_table
    except (ValueError, np.linalg.LinAlgError):
        return math.nan
    p = float(table["Pr > F"].iloc[0])
    return p if not math.isnan(p) else (0.0 if frame.groupby("level")["d"].mean().nunique() > 1 else 1.0)
