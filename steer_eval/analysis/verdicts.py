"""The verdict of each steered cell, by documented rules (docs/analysis.md), in this order:

1. `artifact`: significant at the original option order, but under the balanced option rotations the
   pooled effect's interval includes 0 or lies on the other side, or at least half of the effect goes
   (letter share >= 0.5): a letter prior, not the behaviour.
2. `hurts`: q < alpha and the change goes against the task's wanted direction.
3. `helps`: q < alpha, in the wanted direction, and (when the run has a random control for the vector)
   significantly beyond that placebo on the same items; otherwise `inconclusive` (no better than placebo, or
   a placebo the run has that could not be compared: its texts left too few scored).
4. `non-inferior`: intelligence tasks only: not worse than the baseline by more than the margin
   (one-sided test, p < alpha).
   Before 2-3: a generation cell where steering changed how many texts got no usable score (exact McNemar
   on the unscored texts, p < alpha) is `inconclusive`: the delta sees only the pairs scored in both.
5. `inconclusive`: not significant and the minimum detectable effect exceeds `inconclusive_mde` (too
   few items to rule out a sizeable effect).
6. `no detectable effect`: not significant, with the minimum detectable effect reported.
"""

from __future__ import annotations

import math
from typing import Any

# reasons the report words differently from "too few items" (cards.py, by_vector.py)
NOTHING_SCORED = "no item was scored"
NOT_BEYOND_PLACEBO = "significant against the baseline but not beyond the random control"
UNSCORED_APART = "steering changed how many texts could be scored"
PLACEBO_NOT_COMPARED = "significant against the baseline, but its placebo could not be compared"


def verdict(row: dict[str, Any], settings) -> tuple[str, str]:
    q = row.get("q_value", math.nan)
    delta = row.get("delta", math.nan)
    if row.get("n") == 0:
        missing = row.get("judge_missing")
        unscored = (
            f" ({int(missing)} texts had no usable score)" if isinstance(missing, int | float) and missing > 0 else ""
        )
        return "inconclusive", f"{NOTHING_SCORED}: no item has a score both here and at the baseline{unscored}"
    if math.isnan(q) or math.isnan(delta):
        return "inconclusive", "no paired correctness for this task"
    wanted = row["desired_sign"] * delta
    significant = q < settings.alpha
    pooled_low, pooled_high = row.get("pooled_ci_low", math.nan), row.get("pooled_ci_high", math.nan)
    if significant and not math.isnan(pooled_low):
        same_side = pooled_low > 0 if delta > 0 else pooled_high < 0
        share = row.get("letter_share", math.nan)
        if not same_side or (not math.isnan(share) and share >= 0.5):
            return "artifact", (
                f"significant at the original option order; under {row.get('orders')} option-order rotations "
                f"{'it vanishes' if not same_side else f'{100 * share:.0f}% of it goes'} (letter prior)"
            )
    unscored = _unscored_apart(row, settings)
    if significant and unscored:
        return "inconclusive", unscored
    if significant and wanted < 0:
        return "hurts", f"q = {q:.3g}"
    if significant and wanted > 0:
        if row.get("placebo_missing"):
            return "inconclusive", (
                f"{PLACEBO_NOT_COMPARED}: its {int(row['placebo_missing'])} same-norm random draw(s) left too few "
                "texts scored to compare with"
            )
        p_placebo = row.get("vs_placebo_p", math.nan)
        if not math.isnan(p_placebo) and not (
            p_placebo < settings.alpha and row["desired_sign"] * row["vs_placebo_delta"] > 0
        ):
            return "inconclusive", NOT_BEYOND_PLACEBO
        return "helps", f"q = {q:.3g}"
    if row["kind"] == "intelligence" and row.get("noninferiority_q", math.nan) < settings.alpha:
        return "non-inferior", f"not worse by more than {settings.margin:g} (q = {row['noninferiority_q']:.3g})"
    if row.get("mde", math.inf) > settings.inconclusive_mde:
        return "inconclusive", f"minimum detectable effect {row['mde']:.3f} is above {settings.inconclusive_mde:g}"
    return "no detectable effect", f"minimum detectable effect {row['mde']:.3f}"


def _unscored_apart(row: dict[str, Any], settings) -> str:
    """Why a significant generation cell cannot be read off its scored pairs: steering left significantly
    more (or fewer) texts without a usable score than the unsteered model ('' when it did not)."""
    p = row.get("unscored_p", math.nan)
    if not isinstance(p, float) or math.isnan(p) or p >= settings.alpha:
        return ""
    steered, baseline = row["unscored_steered"], row["unscored_baseline"]
    return (
        f"{UNSCORED_APART}: {steered} steered texts against {baseline} unsteered had no usable score (p = {p:.2g}); "
        "the change is measured on the texts scored in both only"
    )
