"""One row per steered cell: the paired effects on accuracy (or the task's correctness metric; for a scored
generation task, its scorer's behaviour score) and on propensity, BBQ's bias scores, non-inferiority for
intelligence tasks, the minimum detectable effect, and for generation cells the fluency costs (text NLL under
the unsteered model, distinct-2, length) and how many texts could not be scored."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar

from steer_eval.analysis.load import CellData, check_paired
from steer_eval.analysis.stats import minimum_detectable_effect, non_inferiority_p, paired_continuous, paired_effect
from steer_eval.tasks.metrics import bbq_scores


def desired_sign(cell: CellData) -> int:
    """+1 when more of the target is wanted (or the task is a probe with no wanted direction), -1 when the
    target is an unwanted behaviour (e.g. sycophancy): "helps" then means the target rate went down."""
    return -1 if cell.target_is_desired is False else 1


def _bbq(cell: CellData) -> dict[str, float]:
    if not cell.bbq:
        return {}
    records = [
        {
            "condition": cond,
            "chosen": int(chosen),
            "biased": None if biased < 0 else int(biased),
            "unknown": int(unknown),
            "correct": bool(correct),
        }
        for cond, chosen, biased, unknown, correct in zip(
            cell.bbq["condition"], cell.chosen, cell.bbq["biased"], cell.bbq["unknown"], cell.correct, strict=True
        )
    ]
    return bbq_scores(records)


def effect_row(baseline: CellData, steered: CellData, rng: np.random.Generator, settings) -> dict[str, Any]:
    check_paired(baseline, steered)
    row: dict[str, Any] = {
        "cell": steered.key,
        "baseline_cell": baseline.key,
        "task": steered.task,
        "kind": steered.kind,
        "family": steered.family,
        "target_is_desired": steered.target_is_desired,
        "vector": steered.vector,
        "control_of": steered.control_of,
        "is_control": steered.control_of is not None,
        "alpha": steered.alpha,
        "layer": steered.layer,
        "positions": steered.positions,
        "fewshot": steered.fewshot,
        "option_order": steered.option_order,
        "n": len(steered.item_ids),
        "desired_sign": desired_sign(steered),
    }
    defined = ~np.isnan(baseline.correct) & ~np.isnan(steered.correct)
    scored = steered.scorer is not None  # a scorer may leave texts unscored: pairs where both are scored count
    if scored:
        row.update(scorer=steered.scorer, judge_missing=int((~defined).sum()), n=int(defined.sum()))
        row.update(unscored_pairs(baseline.correct, steered.correct))
    if len(defined) and (defined.all() or (scored and defined.any())):
        b, s = baseline.correct[defined], steered.correct[defined]
        effect = paired_effect(b, s, rng, settings.bootstrap, settings.level)
        row.update(
            baseline=effect.baseline,
            steered=effect.steered,
            delta=effect.delta,
            ci_low=effect.ci_low,
            ci_high=effect.ci_high,
            p_value=effect.p_value,
            mde=minimum_detectable_effect(b, s, settings.alpha),
            noninferiority_p=non_inferiority_p(b, s, settings.margin) if steered.kind == "intelligence" else math.nan,
        )
    else:
        row.update(baseline=math.nan, steered=math.nan, delta=math.nan, ci_low=math.nan, ci_high=math.nan,
                   p_value=math.nan, mde=math.nan, noninferiority_p=math.nan)  # fmt: skip
    row.update(fluency_rows(baseline, steered))
    has_propensity = ~np.isnan(baseline.propensity) & ~np.isnan(steered.propensity)
    if has_propensity.any():
        effect = paired_continuous(
            baseline.propensity[has_propensity], steered.propensity[has_propensity], settings.level
        )
        row.update(
            propensity_baseline=effect.baseline,
            propensity_delta=effect.delta,
            propensity_ci_low=effect.ci_low,
            propensity_ci_high=effect.ci_high,
            propensity_p=effect.p_value,
        )
    base_bbq, steered_bbq = _bbq(baseline), _bbq(steered)
    for name in ("bias_ambiguous", "bias_disambiguated"):
        if name in base_bbq and name in steered_bbq:
            row[f"{name}_baseline"] = base_bbq[name]
            row[f"{name}_delta"] = steered_bbq[name] - base_bbq[name]
    return row


def unscored_pairs(baseline: np.ndarray, steered: np.ndarray) -> dict[str, float]:
    """How many texts lacked a usable score in the steered cell and at the baseline, and the exact McNemar
    p-value of the difference: the pairs scored in both are all the delta sees, so steering that leaves more
    texts unscorable (empty, broken, a judge that cannot rate them) would hide that cost in the pairs left out."""
    b, s = np.isnan(baseline), np.isnan(steered)
    only_steered, only_baseline = int((s & ~b).sum()), int((b & ~s).sum())
    p = 1.0
    if only_steered + only_baseline:
        table = [[int((b & s).sum()), only_baseline], [only_steered, int((~b & ~s).sum())]]
        p = float(mcnemar(table, exact=True).pvalue)
    return {"unscored_baseline": int(b.sum()), "unscored_steered": int(s.sum()), "unscored_p": p}


FLUENCY = (("fluency_nll", "nll"), ("distinct", "distinct"), ("length", "words"))


def fluency_rows(baseline: CellData, steered: CellData) -> dict[str, float]:
    """Mean paired differences of the fluency measures over the items measured in both cells: a positive
    `fluency_nll_delta` is text the unsteered model finds less likely (a cost), a negative `distinct_delta`
    more repetition."""
    out: dict[str, float] = {}
    for name, attribute in FLUENCY:
        b, s = getattr(baseline, attribute), getattr(steered, attribute)
        if b is None or s is None:
            continue
        both = ~np.isnan(b) & ~np.isnan(s)
        if both.any():
            out[f"{name}_baseline"] = float(b[both].mean())
            out[f"{name}_delta"] = float((s[both] - b[both]).mean())
    for name, b in baseline.judged.items():  # a judge's ratings of relevance, fluency and overall
        s = steered.judged.get(name)
        both = ~np.isnan(b) & ~np.isnan(s) if s is not None else np.zeros(len(b), dtype=bool)
        if both.any():
            out[f"{name}_delta"] = float((s[both] - b[both]).mean())
    if "fluency_nll_delta" in out:
        both = ~np.isnan(baseline.nll) & ~np.isnan(steered.nll)
        if both.sum() > 1:
            effect = paired_continuous(baseline.nll[both], steered.nll[both])
            out.update(fluency_nll_ci_low=effect.ci_low, fluency_nll_ci_high=effect.ci_high)
    return out
