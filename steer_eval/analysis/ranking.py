"""The ranking per behaviour task (issue 23): the leaderboard a methods paper needs. Each vector (and rival
arm) enters at its validation-selected strength; one without a selection enters at every strength it ran,
marked, since picking its best strength here would be selection on test data. Entries are ordered by their
gain (the change toward the wanted answer) and grouped into tiers the paired tests cannot split: the best
entry and every entry not significantly worse than it form tier 1, the best of the rest starts tier 2, and
so on. Two entries are compared item by item on the same items (paired t-test of the per-item difference of
the outcome; scipy), with the run's correction (Holm, or BH) over every pair of the task."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from scipy import stats

from steer_eval.analysis.load import CellData
from steer_eval.analysis.stats import adjusted


def ranking_rows(rows: list[dict[str, Any]], cells: list[CellData], alpha: float, correction: str) -> list[dict]:
    """One row per entry of each behaviour task's ranking (main view: original option order, default
    condition; placebos, resamples and pairs are not entries)."""
    by_key = {cell.key: cell for cell in cells}
    out = []
    entries = [
        r for r in rows
        if r["kind"] == "behavior" and not r["is_control"] and r["option_order"] == 0 and not r["condition"]
        and r["cell"] in by_key and not math.isnan(r["delta"])
    ]  # fmt: skip
    tasks = dict.fromkeys(r["task"] for r in entries)
    for task in tasks:
        mine = [r for r in entries if r["task"] == task]
        chosen = {r["vector"] for r in mine if r.get("selected")}
        mine = [r for r in mine if r.get("selected") or r["vector"] not in chosen]
        if len(mine) < 2:
            continue
        mine.sort(key=lambda r: -r["desired_sign"] * r["delta"])
        p_values = _pairwise(mine, by_key)
        corrected = adjusted(list(p_values.values()), correction, alpha) if p_values else []
        significant = dict(zip(p_values, [bool(q < alpha) for q in corrected], strict=True))
        tiers = _tiers(len(mine), lambda a, b, split=significant: split.get((a, b), False))
        for rank, (row, tier) in enumerate(zip(mine, tiers, strict=True), start=1):
            sign = row["desired_sign"]
            low, high = sorted((sign * row["ci_low"], sign * row["ci_high"]))
            out.append(
                {"task": task, "rank": rank, "tier": tier, "vector": row["vector"], "alpha": row["alpha"],
                 "layer": row["layer"], "selected": bool(row.get("selected")), "gain": sign * row["delta"],
                 "gain_low": low, "gain_high": high, "verdict": row["verdict"], "on_target": row.get("on_target"),
                 "entries": len(mine)}
            )  # fmt: skip
    return out


def _pairwise(entries: list[dict], by_key: dict[str, CellData]) -> dict[tuple[int, int], float]:
    """(i, j) with i ranked above j -> the paired p-value of their difference, on the items both scored."""
    out = {}
    for i, j in itertools.combinations(range(len(entries)), 2):
        first, second = by_key[entries[i]["cell"]], by_key[entries[j]["cell"]]
        if first.item_ids != second.item_ids:
            continue  # another item set (a limit, a data version): no paired test, so no split
        difference = first.correct - second.correct
        difference = difference[~np.isnan(difference)]
        if len(difference) < 2 or np.allclose(difference, difference[0]):
            out[i, j] = 1.0 if len(difference) < 2 or difference[0] == 0 else 0.0
            continue
        out[i, j] = float(stats.ttest_rel(first.correct, second.correct, nan_policy="omit").pvalue)
    return out


def _tiers(count: int, worse: Any) -> list[int]:
    """Tier per entry (in rank order): each tier is its best unassigned entry and every unassigned entry
    not significantly worse than it."""
    tiers = [0] * count
    tier = 0
    for leader in range(count):
        if tiers[leader]:
            continue
        tier += 1
        tiers[leader] = tier
        for other in range(leader + 1, count):
            if not tiers[other] and not worse(leader, other):
                tiers[other] = tier
    return tiers
