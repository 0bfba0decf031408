"""Artifact and placebo controls.

- Placebo: a vector's effect against its same-norm random controls', on the same items at the same
  strength, layer, positions, few-shot, option order and condition. With one draw, paired item by item (steered
  vs control answers). With N draws (`--controls random:N`, 5 by default) the placebo is a distribution: a
  random direction has an effect of its own, so the question is whether the vector's effect stands out from
  the effects of N random directions. The vector's effect is set against the draws' mean with a prediction
  interval: (delta_v - mean_p) / sqrt(s_p^2 (1 + 1/N) + se_v^2), Welch-Satterthwaite degrees of freedom, where
  s_p is the spread of the N placebo effects (item noise included) and se_v the vector's own standard error.
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
from scipy import stats as scipy_stats
from statsmodels.stats.weightstats import DescrStatsW

from steer_eval.analysis.load import CellData, check_paired
from steer_eval.analysis.stats import paired_effect


def placebo_rows(
    cells: list[CellData], rng: np.random.Generator, settings, baselines: dict | None = None
) -> dict[str, dict[str, Any]]:
    """By steered cell key: the placebo's rate, the steered-vs-placebo comparison and the placebo draws' spread."""
    controls: dict[tuple, list[CellData]] = {}
    for c in cells:
        if c.control_of is not None:
            key = (c.task, c.control_of, c.alpha, c.layer, c.positions, c.fewshot, c.option_order, c.condition)
            controls.setdefault(key, []).append(c)
    out = {}
    for cell in cells:
        if cell.vector is None or cell.control_of is not None:
            continue
        draws = controls.get(
            (cell.task, cell.vector, cell.alpha, cell.layer, cell.positions, cell.fewshot, cell.option_order,
             cell.condition)
        )  # fmt: skip
        if not draws:
            continue
        base = (baselines or {}).get(cell.group)
        compared = None
        if len(draws) == 1:
            compared = against(draws[0], cell, rng, settings, "vs_placebo_")
            if compared is not None:
                compared = {"placebo_steered": compared.pop("reference"), "placebo_draws": 1, **compared,
                            **_spread(draws, base)}  # fmt: skip
        elif base is not None:
            compared = against_draws(draws, cell, base, settings)
        # a placebo the run has but that cannot be compared (its texts unscorable) is said, never skipped:
        # without it a cell would be judged `helps` on the baseline alone
        out[cell.key] = {"placebo_cell": draws[0].key, **(compared or {"placebo_missing": len(draws)})}
    return out


def _spread(draws: list[CellData], base: CellData | None) -> dict[str, float]:
    """The lowest and highest effect among the placebo draws (on the items measured in all)."""
    if base is None:
        return {}
    both = ~np.isnan(base.correct) & np.all([~np.isnan(d.correct) for d in draws], axis=0)
    if not both.any():
        return {}
    effects = [float((d.correct[both] - base.correct[both]).mean()) for d in draws]
    return {"placebo_delta_low": min(effects), "placebo_delta_high": max(effects)}


def against_draws(draws: list[CellData], cell: CellData, base: CellData, settings) -> dict[str, float] | None:
    """`cell`'s effect against N placebo draws' effects (module docstring): the difference from their mean, its
    prediction interval and p-value, the draws' mean rate and the range of their effects."""
    for draw in draws:
        check_paired(base, draw)
    check_paired(base, cell)
    measured = ~np.isnan(base.correct) & ~np.isnan(cell.correct)
    # each draw's effect on the items it scored (a draw that wrecks most texts must not take every item out of
    # the comparison with it); draws with fewer than 2 such items are left out, and at least 2 must remain
    usable = [d for d in draws if int((measured & ~np.isnan(d.correct)).sum()) >= 2]
    n, count = int(measured.sum()), len(usable)
    if n < 2 or count < 2:
        return None
    own = cell.correct[measured] - base.correct[measured]
    effects = []
    for draw in usable:
        both = measured & ~np.isnan(draw.correct)
        effects.append((draw.correct[both] - base.correct[both]).mean())
    effects = np.array(effects)
    difference = float(own.mean() - effects.mean())
    placebo_var = float(effects.var(ddof=1)) * (1 + 1 / count)
    own_var = float(own.var(ddof=1)) / n
    scale = math.sqrt(placebo_var + own_var)
    if scale == 0:
        p, half = (1.0 if difference == 0 else 0.0), 0.0
    else:
        terms = (placebo_var**2 / (count - 1) if placebo_var else 0.0) + (own_var**2 / (n - 1) if own_var else 0.0)
        df = (placebo_var + own_var) ** 2 / terms if terms else math.inf
        p = float(2 * scipy_stats.t.sf(abs(difference) / scale, df))
        half = float(scipy_stats.t.ppf(0.5 + settings.level / 2, df)) * scale
    return {
        "placebo_steered": float(np.mean([np.nanmean(d.correct[measured]) for d in usable])),
        "placebo_draws": count,
        "placebo_delta_low": float(effects.min()),
        "placebo_delta_high": float(effects.max()),
        "vs_placebo_delta": difference,
        "vs_placebo_ci_low": difference - half,
        "vs_placebo_ci_high": difference + half,
        "vs_placebo_p": p,
    }


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
