"""Artifact and placebo controls.

- Placebo: a vector's effect against its same-norm random control's, on the same items at the same
  strength, layer, positions, few-shot and option order (paired: steered vs control answers per item).
- Option order: a vector's effect at the original option order against its effect pooled over the K
  rotations the run made (balanced when K is the option count). Per item, the differences are averaged over
  the rotations (so items, not item x rotation pairs, are the units of the interval). A significant effect
  at the original order that does not survive the rotations is a letter-prior artifact; `letter_share` is
  the part of the original effect the rotations take away.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from statsmodels.stats.weightstats import DescrStatsW

from steer_eval.analysis.load import CellData, check_paired
from steer_eval.analysis.stats import paired_effect


def placebo_rows(cells: list[CellData], rng: np.random.Generator, settings) -> dict[str, dict[str, Any]]:
    """By steered cell key: the control's delta and the steered-vs-control paired effect."""
    controls = {
        (c.task, c.control_of, c.alpha, c.layer, c.positions, c.fewshot, c.option_order, c.condition): c
        for c in cells
        if c.control_of is not None
    }
    out = {}
    for cell in cells:
        if cell.vector is None or cell.control_of is not None:
            continue
        control = controls.get(
            (cell.task, cell.vector, cell.alpha, cell.layer, cell.positions, cell.fewshot, cell.option_order,
             cell.condition)
        )  # fmt: skip
        compared = None if control is None else against(control, cell, rng, settings, "vs_placebo_")
        if compared is not None:
            out[cell.key] = {"placebo_cell": control.key, "placebo_steered": compared.pop("reference"), **compared}
    return out


def against(reference: CellData, cell: CellData, rng: np.random.Generator, settings, prefix: str) -> dict | None:
    """`cell` against another cell on the same items (its placebo, a rival arm): the paired difference as
    `{prefix}delta`, `_ci_low`, `_ci_high`, `_p`, and the reference's own rate (`reference`). Every item must be
    measured, except where a scorer leaves texts unscored: then the items scored in both. None: nothing to pair."""
    check_paired(reference, cell)
    both = ~np.isnan(cell.correct) & ~np.isnan(reference.correct)
    if not both.any() or (cell.scorer is None and not both.all()):
        return None
    effect = paired_effect(reference.correct[both], cell.correct[both], rng, settings.bootstrap, settings.level)
    return {
        "reference": effect.baseline,
        f"{prefix}delta": effect.delta,
        f"{prefix}ci_low": effect.ci_low,
        f"{prefix}ci_high": effect.ci_high,
        f"{prefix}p": effect.p_value,
    }


def option_order_rows(cells: list[CellData], baselines: dict, settings) -> dict[str, dict[str, Any]]:
    """By the original-order cell's key: the effect pooled over all rotations and the letter share."""
    series: dict[tuple, dict[int, CellData]] = {}
    for cell in cells:
        if cell.vector is not None and not cell.condition:  # rotations run under the default condition only
            key = (cell.task, cell.vector, cell.alpha, cell.layer, cell.positions, cell.fewshot)
            series.setdefault(key, {})[cell.option_order] = cell
    orders_run: dict[tuple[str, int], set[int]] = {}
    for task, fewshot, order, condition in baselines:
        if not condition:
            orders_run.setdefault((task, fewshot), set()).add(order)
    out = {}
    for (task, _v, _a, _l, _p, fewshot), by_order in series.items():
        if 0 not in by_order or len(by_order) < 2:
            continue
        if set(by_order) != orders_run.get((task, fewshot), set()):
            continue  # a partial run: pool only over the full, balanced set of rotations
        per_item = []
        for order, cell in sorted(by_order.items()):
            base = baselines.get((task, fewshot, order, ""))
            if base is None or np.isnan(cell.correct).any():
                break
            check_paired(base, cell)
            per_item.append(cell.correct - base.correct)
        else:
            diffs = np.mean(per_item, axis=0)  # one averaged difference per item
            pooled = float(diffs.mean())
            low, high = (
                DescrStatsW(diffs).tconfint_mean(alpha=1 - settings.level) if diffs.std() > 0 else (pooled, pooled)
            )
            original = float(per_item[0].mean())
            share = math.nan if original == 0 else float(np.clip(1 - pooled / original, 0, 1))
            out[by_order[0].key] = {
                "orders": len(per_item),
                "pooled_delta": pooled,
                "pooled_ci_low": float(low),
                "pooled_ci_high": float(high),
                "letter_share": share,
            }
    return out
