"""Dose-response and reliability (Tan et al. 2024): per item, the steerability is the least-squares slope
of its propensity over the strengths of a series (a vector at one layer, position mode, task, few-shot and
option order; the unsteered baseline is strength 0); items with a negative slope are anti-steerable
(share with a Wilson interval; "negative" is relative to the vector's own direction, whatever the task
wants); monotonicity is Spearman's rho between strength and mean propensity, over at least 4 strengths (the
baseline's 0 included: with fewer, rho can take only the values +-1 or +-0.5 and says nothing).
The breakdown strength of a capability is the smallest strength whose verdict is `hurts`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from steer_eval.analysis.load import CellData

MIN_RHO_POINTS = 4  # strengths, the baseline's 0 included, below which monotonicity is not computed


def dose_rows(
    cells: list[CellData], baselines: dict, level: float, slopes_out: dict | None = None
) -> list[dict[str, Any]]:
    series: dict[tuple, list[CellData]] = {}
    for cell in cells:
        if cell.vector is not None:
            series.setdefault(cell.series, []).append(cell)
    rows = []
    for (task, vector, layer, positions, fewshot, order, condition), members in series.items():
        base = baselines.get((task, fewshot, order, condition))
        members = sorted(members, key=lambda c: c.alpha)
        if base is None or np.isnan(base.propensity).all():
            continue
        ordered = sorted([(0.0, base), *((c.alpha, c) for c in members)], key=lambda pair: pair[0])
        alphas = np.array([alpha for alpha, _ in ordered])
        matrix = np.vstack([c.propensity for _, c in ordered])  # [strengths, items]
        usable = ~np.isnan(matrix).any(axis=0)
        if len(set(alphas.tolist())) < 2 or not usable.any():
            continue  # one strength (a rival arm alone is strength 0, like its baseline): no slope
        y = matrix[:, usable]
        centred = alphas - alphas.mean()
        slopes = (centred[:, None] * (y - y.mean(axis=0))).sum(axis=0) / (centred**2).sum()
        if slopes_out is not None:
            slopes_out[(task, vector, layer, positions, fewshot, order, condition)] = slopes
        anti = int((slopes < 0).sum())
        low, high = proportion_confint(anti, len(slopes), alpha=1 - level, method="wilson")
        means = y.mean(axis=1)
        points = len(set(alphas.tolist()))
        if np.ptp(means) == 0 or points < MIN_RHO_POINTS:
            # a flat series has no direction (and Spearman's rho is undefined for it); with two points rho is
            # +-1 by construction and with three it can only be +-0.5 or +-1: no evidence of monotonicity
            rho = math.nan
        else:
            rho = float(scipy_stats.spearmanr(alphas, means).statistic)
        rows.append(
            {
                "task": task,
                "vector": vector,
                "control_of": members[0].control_of,
                "layer": layer,
                "positions": positions,
                "fewshot": fewshot,
                "option_order": order,
                "condition": condition,
                "strengths": alphas.tolist(),
                "mean_propensity": means.tolist(),
                "n_items": int(usable.sum()),
                "strength_points": points,
                "steerability_mean": float(slopes.mean()),
                "steerability_median": float(np.median(slopes)),
                "steerability_q25": float(np.quantile(slopes, 0.25)),
                "steerability_q75": float(np.quantile(slopes, 0.75)),
                "anti_steerable": anti / len(slopes),
                "anti_steerable_ci_low": float(low),
                "anti_steerable_ci_high": float(high),
                "monotonicity_rho": rho,
            }
        )
    return rows


def breakdown_strengths(effects) -> list[dict[str, Any]]:
    """Per intelligence task and vector series: the smallest positive and negative strengths judged `hurts`."""
    rows = []
    hurt = effects[
        (effects["kind"] == "intelligence") & (effects["verdict"] == "hurts") & ~effects["is_control"].astype(bool)
    ]
    for (task, vector, layer, positions, fewshot, order, condition), group in hurt.groupby(
        ["task", "vector", "layer", "positions", "fewshot", "option_order", "condition"], dropna=False
    ):
        positive = group[group["alpha"] > 0]["alpha"]
        negative = group[group["alpha"] < 0]["alpha"]
        rows.append(
            {
                "task": task,
                "vector": vector,
                "layer": layer,
                "positions": positions,
                "fewshot": fewshot,
                "option_order": order,
                "condition": condition,
                "breaks_at_positive": float(positive.min()) if len(positive) else None,
                "breaks_at_negative": float(negative.max()) if len(negative) else None,
            }
        )
    return rows
