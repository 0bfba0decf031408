"""Does a vector beat just asking the model? Each vector cell against the rival arm of the same task
(run/arms.py: an instruction, demonstrations), paired item by item: the vector's score minus the arm's on the
same prompts (McNemar / bootstrap for 0/1 scores, t interval and t-test for graded ones). The rival is fixed before
any result is seen, never picked as the best on the test items: the first prompt arm the run was given, else
its first few-shot arm. The comparison is not corrected across cells (a reader's question, not a verdict)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from steer_eval.analysis.controls import against
from steer_eval.analysis.load import CellData
from steer_eval.analysis.views import main as main_view


def is_arm_alone(cell: CellData) -> bool:
    return cell.arm is not None and cell.vector_sha is None


def rival_rows(cells: list[CellData], rng: np.random.Generator, settings) -> dict[str, dict[str, Any]]:
    """By vector cell key: its rival arm and the paired difference from it."""
    rivals: dict[tuple, CellData] = {}
    for cell in filter(is_arm_alone, cells):  # grid order: the prompt arms as given, then the few-shot arms
        first = rivals.get(cell.group)
        if first is None or (first.arm.startswith("fewshot:") and cell.arm.startswith("prompt:")):
            rivals[cell.group] = cell
    out = {}
    for cell in cells:
        rival = rivals.get(cell.group)
        if rival is None or cell.vector is None or cell.arm is not None or cell.control_of is not None:
            continue
        compared = against(rival, cell, rng, settings, "vs_rival_")
        if compared is not None:
            out[cell.key] = {"rival": rival.vector, "rival_steered": compared.pop("reference"), **compared}
    return out


def rival_sentences(effects: pd.DataFrame) -> list[str]:
    """Per vector and task with a rival arm: the vector's validation-selected cell (or, where it recorded none,
    its strongest cell, picked after the fact and said so) against the rival."""
    if "vs_rival_delta" not in effects:
        return []
    rows = effects[effects["vs_rival_delta"].notna() & ~effects["is_control"] & main_view(effects)]
    lines = []
    for (task, vector), group in rows.groupby(["task", "vector"], sort=False):
        picked = group[group["selected"].fillna(False).astype(bool)] if "selected" in group else group.iloc[:0]
        how = "at its selected strength"
        if picked.empty:
            strongest = (group["desired_sign"] * group["delta"]).idxmax()
            picked, how = group.loc[[strongest]], "at its strongest cell (picked after the fact)"
        row = picked.iloc[0]
        sign = row["desired_sign"]
        low, high = sorted((sign * row["vs_rival_ci_low"], sign * row["vs_rival_ci_high"]))
        interval = f"{100 * sign * row['vs_rival_delta']:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]"
        if low > 0:
            answer = f"beats {row['rival']} by {interval}"
        elif high < 0:
            answer = f"does worse than {row['rival']}: {interval}"
        else:
            answer = f"no detectable difference from {row['rival']} ({interval})"
        lines.append(
            f"{vector} {how} ({row['alpha']:g}) on {task}: {row['steered']:.3f} vs {row['rival_steered']:.3f}: {answer}"
        )
    return lines
