"""The answer per vector, in sentences: on which tasks it helps (beyond its placebo, at which strength, by how
much), what it hurts, where it is an option-order artifact, and where nothing could be detected. The input is
the effects table; nothing is recomputed."""

from __future__ import annotations

import math

import pandas as pd

from steer_eval.analysis.saturation import is_saturated
from steer_eval.analysis.verdicts import NOT_BEYOND_PLACEBO, NOTHING_SCORED, PLACEBO_NOT_COMPARED, UNSCORED_APART
from steer_eval.analysis.views import main as main_view


def _points(row, prefix: str = "") -> str:
    delta, low, high = row[f"{prefix}delta"], row[f"{prefix}ci_low"], row[f"{prefix}ci_high"]
    return f"{100 * delta:+.0f} points [{100 * low:+.0f}, {100 * high:+.0f}]"


def _strengths(rows: pd.DataFrame) -> str:
    values = sorted(rows["alpha"].unique())
    return ", ".join(f"{a:g}" for a in values)


def _at(rows: pd.DataFrame) -> str:
    """ " at strength 1, 2"; nothing for a rival arm alone (an instruction has no strength)."""
    return "" if (rows["alpha"] == 0).all() else f" at strength {_strengths(rows)}"


def _fluency_cost(cells: pd.DataFrame) -> str:
    """Where its text grows significantly less fluent (the unsteered model's NLL per token rises, the interval
    above 0): the largest such cost, in words. Degenerate text ("bugs . bugs . bugs .") is a cost even where
    no behaviour score could be read from it."""
    if "fluency_nll_ci_low" not in cells:
        return ""
    costly = cells[cells["fluency_nll_ci_low"].astype(float) > 0]
    if costly.empty:
        return ""
    worst = costly.loc[costly["fluency_nll_delta"].astype(float).idxmax()]
    distinct = worst.get("distinct_delta", math.nan)
    repeats = f", distinct-2 {distinct:+.2f}" if not pd.isna(distinct) else ""
    return (f"its text on {worst['task']} grows less fluent{_at(costly)} (up to {worst['fluency_nll_delta']:+.2f} "
            f"nats per token under the unsteered model{repeats})")  # fmt: skip


def _prompt_alone(effects: pd.DataFrame, vector: str, rows: pd.DataFrame) -> str:
    """For VECTOR+prompt:NAME, what the instruction does on its own on the same tasks: a gain of the pair is
    the vector's only beyond that (a vector that hurts alone still "helps" beside an instruction that helps)."""
    if "+prompt:" not in vector:
        return ""
    arm = "prompt:" + vector.split("+prompt:", 1)[1]
    words = []
    for task in dict.fromkeys(rows["task"]):
        own = effects[(effects["vector"] == arm) & (effects["task"] == task)]
        if len(own):
            words.append(f"{arm} alone moves {task} {_points(own.iloc[0])} ({own.iloc[0]['verdict']})")
    return "; ".join(words)


def _representative(rows: pd.DataFrame) -> pd.Series:
    """The cell a reader should see first: the validation-selected one if among them, else the largest."""
    if "selected" in rows and rows["selected"].fillna(False).astype(bool).any():
        return rows[rows["selected"].fillna(False).astype(bool)].iloc[0]
    return rows.loc[rows["delta"].abs().idxmax()]


def _helps(rows: pd.DataFrame) -> str:
    row = _representative(rows)
    where = "its selected strength" if bool(row.get("selected", False)) else "strength"
    at = "" if row["alpha"] == 0 else f" at {where} {row['alpha']:g}"  # a rival arm alone has no strength
    words = f"helps {row['task']}{at} ({_points(row)}"
    if not pd.isna(row.get("vs_placebo_delta", math.nan)):
        words += f"; beyond its same-norm placebo by {_points(row, 'vs_placebo_')}"
    words += ")"
    if len(rows) > 1:
        words += f", and at {_strengths(rows.drop(row.name))} too"
    return words + (", capped by the ceiling" if is_saturated(row.get("saturated")) else "")


def _hurts(rows: pd.DataFrame) -> str:
    worst = rows.loc[rows["delta"].abs().idxmax()]
    at = "" if worst["alpha"] == 0 else f" at {worst['alpha']:g}"
    return f"hurts {worst['task']}{_at(rows)} (worst {_points(worst)}{at})"


def _off_target(cells: pd.DataFrame) -> bool:
    """A behaviour of another family than the one the vector was made for (targets.py)."""
    return "on_target" in cells and bool((cells["on_target"].astype("object") == False).any())  # noqa: E712


def _moves(rows: pd.DataFrame) -> str:
    """An off-target effect: named as such, never as "helps" or "hurts"."""
    row = _representative(rows)
    return f"off-target: moves {row['task']}{_at(rows)} ({_points(row)} at {row['alpha']:g})"


def _like_placebo(rows: pd.DataFrame) -> str:
    """A change the baseline comparison finds but the comparison with same-norm placebo draws does not."""
    row = _representative(rows)
    return (f"moves {row['task']}{_at(rows)} ({_points(row)}) but not clearly more than its "
            f"same-norm placebo ({_points(row, 'vs_placebo_')})")  # fmt: skip


def vector_sentences(effects: pd.DataFrame) -> list[str]:
    """One sentence per vector (controls and rotated orders are the evidence, not the subject)."""
    mine = effects[(~effects["is_control"]) & main_view(effects)]
    lines = []
    for vector, rows in mine.groupby("vector", sort=False):
        parts, quiet = [], []
        for task, cells in rows.groupby("task", sort=False):
            verdicts = cells["verdict"]
            reasons = cells.get("verdict_reason", pd.Series("", index=cells.index)).fillna("").astype(str)
            like_placebo = cells[reasons.str.startswith(NOT_BEYOND_PLACEBO)]
            if len(like_placebo) and not verdicts.isin(["helps", "hurts"]).any():
                parts.append(_like_placebo(like_placebo))
            unscored = cells[reasons.str.startswith(NOTHING_SCORED)]
            if len(unscored):
                parts.append(f"nothing scored on {task}{_at(unscored)} (no text got a usable score; judge_missing in "
                             "effects.csv)")  # fmt: skip
            uncompared = cells[reasons.str.startswith(PLACEBO_NOT_COMPARED)]
            if len(uncompared) and not verdicts.isin(["helps", "hurts"]).any():
                parts.append(f"moves {task}{_at(uncompared)} but cannot be set against its placebo (the random "
                             "draws left too few texts scored)")  # fmt: skip
            apart = cells[reasons.str.startswith(UNSCORED_APART)]
            if len(apart):
                row = apart.iloc[0]
                parts.append(f"cannot tell on {task}{_at(apart)}: steered, {row['unscored_steered']} texts had no "
                             f"usable score against {row['unscored_baseline']} unsteered")  # fmt: skip
            if (verdicts == "artifact").any():
                artifact = cells[verdicts == "artifact"]
                parts.append(
                    f"an option-order artifact on {task}{_at(artifact)} (its gain at the original "
                    "order goes under the rotations: a letter preference, not the behaviour)"
                )
            if _off_target(cells) and verdicts.isin(["helps", "hurts"]).any():
                parts.append(_moves(cells[verdicts.isin(["helps", "hurts"])]))
            elif (verdicts == "helps").any():
                parts.append(_helps(cells[verdicts == "helps"]))
            if (verdicts == "hurts").any() and not _off_target(cells):
                parts.append(_hurts(cells[verdicts == "hurts"]))
            cost = _fluency_cost(cells)
            if cost:
                parts.append(cost)
            if verdicts.isin(["no detectable effect", "non-inferior"]).all() and not cost:
                quiet.append(task)
        alone = _prompt_alone(mine, str(vector), rows)
        if alone:
            parts.append(alone)
        layer = rows["layer"].dropna()
        head = f"{vector}" + (f" (layer {int(layer.iloc[0])})" if len(layer) and layer.nunique() == 1 else "")
        if quiet:
            parts.append(f"no detectable effect on {', '.join(quiet)} at any strength")
        lines.append(f"{head}: " + ("; ".join(parts) if parts else "nothing the data can tell at any strength"))
    return lines
