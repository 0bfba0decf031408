"""Saturation: a flag that qualifies a verdict when the bound of the measure, not the vector, decided it.

Accuracy (the target rate) lives in [0, 1]. A cell whose baseline already gives every wanted answer cannot
show a gain, so its `no detectable effect` says nothing about whether the vector helps; a capability the
model does not have at all cannot get worse, so `non-inferior` there says nothing about harm.

The rule (docs/analysis.md). Let w be the share of wanted answers (the accuracy; for a task whose target is
unwanted, one minus the target rate, since fewer target answers is the help). The verdict speaks to one
direction: a gain for `helps` and, on behaviour tasks and probes, for `no detectable effect` and
`inconclusive` (does the vector help?); a loss for `hurts`, `non-inferior` and, on intelligence tasks, for
`no detectable effect` and `inconclusive` (does it hurt a capability?). The room in that direction is the
distance to the bound (1 - w toward a gain, w toward a loss), from the baseline or from the steered cell,
whichever is smaller (a steered cell at the bound caps the change it shows). The cell is saturated when that
room is 0 or smaller than the minimum detectable effect: even the largest change the bound allows (every
item moving) is below what the data can detect with 80% power, so the verdict cannot tell the vector's
effect from the ceiling (or floor). Comparing with the MDE rather than a fixed margin ties the flag to the
same power the verdicts use: 2 points of room are plenty with 5,000 items and nothing with 50. For `helps`
and `hurts` the steered cell at the bound means the change is capped: the vector may do more than the delta
shows. `artifact` verdicts are about the option order, not the size of the change, and are never flagged.
The flag never changes the verdict.
"""

from __future__ import annotations

import math
from typing import Any

GAIN, LOSS = "improvement", "worsening"  # toward the wanted answers, away from them


def direction(row: dict[str, Any]) -> str | None:
    """The direction of change the row's verdict speaks to (None: none that saturation qualifies)."""
    verdict = row.get("verdict")
    if verdict == "helps":
        return GAIN
    if verdict in ("hurts", "non-inferior"):
        return LOSS
    if verdict in ("no detectable effect", "inconclusive"):
        return LOSS if row.get("kind") == "intelligence" else GAIN
    return None


def saturation(row: dict[str, Any]) -> tuple[bool, str]:
    """(saturated, words for the verdict reason; empty when not saturated) for one effects row."""
    toward = direction(row)
    values = {"baseline": row.get("baseline", math.nan), "steered cell": row.get("steered", math.nan)}
    mde = row.get("mde", math.nan)
    if toward is None or any(math.isnan(v) for v in values.values()) or math.isnan(mde):
        return False, ""
    sign = row.get("desired_sign", 1)
    # the bound of the measure (accuracy, or the target rate) that a change in this direction runs into
    bound = 1.0 if (sign > 0) == (toward == GAIN) else 0.0
    rooms = {name: abs(bound - value) for name, value in values.items()}
    which = min(rooms, key=rooms.__getitem__)  # the baseline on a tie
    room = rooms[which]
    # room < mde with an infinite mde (fewer than 3 items) would flag every cell: sample size, not the bound
    if not (room == 0 or (math.isfinite(mde) and room < mde)):
        return False, ""
    measure = "accuracy" if sign > 0 else "target rate"
    edge = "ceiling" if bound == 1.0 else "floor"
    where = (
        f"is at the {edge} ({bound:g})"
        if room == 0
        else f"is {room:.3f} from the {edge}, less than the minimum detectable effect {mde:.3f}"
    )
    if which == "baseline" and row["verdict"] not in ("helps", "hurts"):
        consequence = f"no {toward} could have shown, so the verdict says nothing about one"
    else:  # a change that reached the bound (or nearly): it might have been larger with room to grow
        consequence = f"the {toward} may be capped by it"
    return True, f"saturated: the {which}'s {measure} {values[which]:.3f} {where}; {consequence}"


def is_saturated(value: Any) -> bool:
    """A `saturated` cell of a table as a plain bool (NaN and missing are False; numpy's bool is True)."""
    return bool(value == True)  # noqa: E712 (numpy's bool_ is not `True`, NaN must be False)
