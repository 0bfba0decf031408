"""The report's first screen (issue 23): one card per vector (and per rival arm), answering in sentences a
person would write: on its target behaviour, does it help beyond the placebo distribution, at which
validation-selected strength, by how much with interval; what it costs on capabilities (non-inferior on how
many, the worst and by how much); what else it moves (off-target); and, where the run measured them, how it
holds across conditions, how stable it is across resamples and whether it beats just asking the model.
The input is the analysis (effects, ranking, the manifest); nothing is recomputed."""

from __future__ import annotations

import math
import re

import pandas as pd

from steer_eval.analysis.targets import target_task
from steer_eval.analysis.verdicts import NOT_BEYOND_PLACEBO, NOTHING_SCORED, PLACEBO_NOT_COMPARED, UNSCORED_APART
from steer_eval.analysis.views import main as main_view
from steer_eval.report.cells_table import flag as _flag

NO_EFFECT = ("no detectable effect", "inconclusive", "non-inferior")


def slug(text: str) -> str:
    """An anchor name for a vector's card (`#vector-...`)."""
    return "vector-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x")


def _signed(value: float) -> str:
    """Whole points with their sign; a value that rounds to zero is 0, never -0; none: n/a."""
    if value is None or not math.isfinite(value):
        return "n/a"
    rounded = round(100 * value)
    return f"{rounded:+d}" if rounded else "0"


def _points(delta: float, low: float, high: float) -> str:
    return f"{_signed(delta)} points [{_signed(low)}, {_signed(high)}]"


def _target_rows(rows: pd.DataFrame, target: str | None) -> pd.DataFrame:
    """The vector's cells on what it was made for: its target task, else behaviours of its target's family,
    else (a vector that names no target) every behaviour task."""
    behaviour = rows[rows["kind"] == "behavior"]
    if target and (behaviour["task"] == target).any():
        return behaviour[behaviour["task"] == target]
    on_target = behaviour[behaviour["on_target"].astype("object") == True]  # noqa: E712
    return on_target if len(on_target) or target else behaviour


def _pick(rows: pd.DataFrame) -> tuple[pd.Series, bool]:
    """The cell a reader should see: the validation-selected one, else the largest gain (marked as not
    selected: choosing it here is choosing on test data)."""
    chosen = rows[rows["selected"].map(_flag)]
    if len(chosen):
        return chosen.iloc[0], True
    gain = rows["desired_sign"] * rows["delta"].fillna(-math.inf)
    return rows.loc[gain.idxmax()], False


def _is_arm(row: pd.Series) -> bool:
    """A rival arm (an instruction, demonstrations, or a vector with an instruction), not a vector alone."""
    return isinstance(row.get("arm"), str) and bool(row["arm"])


def _headline(row: pd.Series, selected: bool) -> str:
    gain = row["desired_sign"] * row["delta"]
    low, high = sorted((row["desired_sign"] * row["ci_low"], row["desired_sign"] * row["ci_high"]))
    at = ""
    if row["alpha"] != 0:  # an arm without a vector has no strength to choose
        at = f" at strength {row['alpha']:g}"
        at += " (chosen on validation)" if selected else " (its best here: no strength was chosen on validation)"
    verdict, reason = row["verdict"], str(row.get("verdict_reason", ""))
    if verdict == "helps":
        words = f"raises wanted answers on {row['task']} by {_points(gain, low, high)}{at}"
    elif verdict == "hurts":
        words = f"lowers wanted answers on {row['task']} by {_points(-gain, -high, -low).lstrip('+')}{at}"
    elif verdict == "artifact":
        words = f"only looks like a gain on {row['task']} ({_points(gain, low, high)}{at}): an option-order artifact"
    elif verdict == "inconclusive" and reason.startswith(NOTHING_SCORED):
        words = f"cannot tell on {row['task']}{at}: {reason}"
    elif verdict == "inconclusive" and reason.startswith(PLACEBO_NOT_COMPARED):
        why = reason[len(PLACEBO_NOT_COMPARED) + 2 :]
        words = f"cannot tell on {row['task']}{at}: it moves it {_points(gain, low, high)}, but {why}"
    elif verdict == "inconclusive" and reason.startswith(UNSCORED_APART):
        words = f"cannot tell on {row['task']}{at} ({_points(gain, low, high)} on the texts scored in both): {reason}"
    elif verdict == "inconclusive" and reason.startswith(NOT_BEYOND_PLACEBO):
        sign = row["desired_sign"]
        beyond = sorted((sign * row["vs_placebo_ci_low"], sign * row["vs_placebo_ci_high"]))
        by = _points(sign * row["vs_placebo_delta"], *beyond)
        words = (f"cannot tell on {row['task']}{at}: it moves it {_points(gain, low, high)}, but not clearly more "
                 f"than its same-norm placebo does (by {by})")  # fmt: skip
    elif verdict == "inconclusive":
        words = f"cannot tell on {row['task']}{at}: {_points(gain, low, high)}, too few items to rule an effect out"
    else:
        words = f"no detectable effect on {row['task']}{at} ({_points(gain, low, high)})"
    # the placebo is the reference for a vector's gain; next to "no effect" it would read as a finding, and
    # an arm has none (its reference is the plain baseline)
    return words + (_placebo(row, gain) if verdict in ("helps", "hurts") and not _is_arm(row) else "")


def _placebo(row: pd.Series, gain: float) -> str:
    draws = row.get("placebo_draws")
    if draws is None or pd.isna(draws) or not int(draws):
        return "; no placebo was run (--controls random)"
    low, high = row.get("placebo_delta_low"), row.get("placebo_delta_high")
    if low is None or pd.isna(low):
        return ""
    moved = sorted(row["desired_sign"] * v for v in (low, high))
    spread = (
        f"they moved it {_signed(moved[0])} to {_signed(moved[1])}"
        if moved[0] != moved[1]
        else (f"they moved it {_signed(moved[0])}")
    )
    n = int(draws)
    if gain > moved[1]:
        return f", beyond any of {n} same-norm placebo draw{'s' if n > 1 else ''} ({spread})"
    return f", not beyond its {n} placebo draw{'s' if n > 1 else ''} ({spread})"


def _costs(rows: pd.DataFrame, alpha: float | None) -> str | None:
    """What it costs on capability tasks at `alpha` (None: a rival arm, which has no strength) and, for a
    vector, its largest cost at any strength."""
    capability = rows[rows["kind"] == "intelligence"]
    if capability.empty:
        return None
    here = capability if alpha is None else capability[capability["alpha"] == alpha]
    words = []
    if len(here):
        safe = int((here["verdict"] == "non-inferior").sum())
        worst = here.loc[here["delta"].idxmin()]
        at = "it is" if alpha is None else f"at strength {alpha:g} it is"
        words.append(f"{at} non-inferior on {safe} of {len(here)} capability task(s)")
        if worst["verdict"] == "hurts":
            words.append(f"costs {_points(-worst['delta'], -worst['ci_high'], -worst['ci_low']).lstrip('+')} on "
                         f"{worst['task']}")  # fmt: skip
    hurt = capability[capability["verdict"] == "hurts"]
    if len(hurt) and alpha is not None:
        worst = hurt.loc[hurt["delta"].idxmin()]
        words.append(f"its largest cost at any strength: {100 * -worst['delta']:.0f} points on {worst['task']} at "
                     f"strength {worst['alpha']:g}")  # fmt: skip
    elif not len(here):
        words.append("no capability cell hurts")
    return "; ".join(words)


def _off_target(rows: pd.DataFrame, alpha: float) -> str | None:
    off = rows[(rows["on_target"].astype("object") == False) & rows["verdict"].isin(["helps", "hurts"])]  # noqa: E712
    if off.empty:
        return None
    parts = []
    for task, cells in off.groupby("task", sort=False):
        here = cells[cells["alpha"] == alpha]
        row = here.iloc[0] if len(here) else cells.loc[cells["delta"].abs().idxmax()]
        parts.append(f"{task} {_points(row['delta'], row['ci_low'], row['ci_high'])} at strength {row['alpha']:g}")
    return "off-target (a behaviour of another family): moves " + "; ".join(parts)


def _stability(row: pd.Series) -> str | None:
    value = row.get("verdict_stability")
    if value is None or pd.isna(value):
        return None
    return f"its verdict holds on {100 * value:.0f}% of the bootstrap resamples of its training data"


def _rival(row: pd.Series) -> str | None:
    delta = row.get("vs_rival_delta")
    if delta is None or pd.isna(delta):
        return None
    sign = row["desired_sign"]
    low, high = sorted((sign * row["vs_rival_ci_low"], sign * row["vs_rival_ci_high"]))
    better = "beats" if low > 0 else "loses to" if high < 0 else "cannot be told from"
    return f"{better} asking the model ({row['rival']}): {_points(sign * delta, low, high)} against it"


MAX_ARM_TASKS = 6  # behaviour tasks a rival arm's card names one by one; the rest are counted by verdict


def _arm_card(rows: pd.DataFrame) -> tuple[str, str, list[str]]:
    """A rival arm alone (`prompt:NAME`, `fewshot:K`): it asks each task for that task's behaviour, so every
    behaviour task it ran on is its target. (what it is made for, the verdict they share or '', lines)"""
    label = str(rows["vector"].iloc[0])
    made_for = (
        f"{label.split(':', 1)[1]} demonstrations of each task's behaviour"
        if label.startswith("fewshot:")
        else "an instruction asking for each task's behaviour"
    )
    behaviour = rows[rows["kind"] == "behavior"]
    lines = [_headline(row, False) for _, row in behaviour.head(MAX_ARM_TASKS).iterrows()]
    rest = behaviour.iloc[MAX_ARM_TASKS:]
    if len(rest):
        counts = rest["verdict"].value_counts()
        lines.append(f"on {len(rest)} more behaviour tasks: " + ", ".join(f"{v} on {n}" for v, n in counts.items()))
    verdicts = set(behaviour["verdict"])
    return made_for, verdicts.pop() if len(verdicts) == 1 else "", lines


def vector_cards(effects: pd.DataFrame, manifest: dict, holds_words: list[str]) -> list[dict]:
    """One card per vector (and rival arm) of the main view (original option order, default condition)."""
    mine = effects[(~effects["is_control"].astype(bool)) & main_view(effects)]
    vectors = manifest.get("vectors") or {}
    cards = []
    for vector, rows in mine.groupby("vector", sort=False):
        if _is_arm(rows.iloc[0]) and "+prompt:" not in str(vector):
            made_for, verdict, lines = _arm_card(rows)
            lines += [s for s in (_costs(rows, None),) if s]
            cards.append({"vector": vector, "anchor": slug(str(vector)), "target": made_for, "verdict": verdict,
                          "lines": lines, "cells": len(rows), "arm": True})  # fmt: skip
            continue
        target = target_task(vectors.get(str(vector).split("+prompt:")[0]))
        targeted = _target_rows(rows, target)
        lines, verdict = [], ""
        if len(targeted):
            row, selected = _pick(targeted)
            verdict = row["verdict"]
            lines.append(_headline(row, selected))
            alpha = float(row["alpha"])
            lines += [s for s in (_stability(row), _rival(row)) if s]
        else:
            chosen = rows[rows["selected"].map(_flag)]
            alpha = float(chosen["alpha"].iloc[0] if len(chosen) else rows["alpha"].iloc[0])
            lines.append(
                f"its target, {target}, and the behaviours of its family were not in this run" if target
                else "this run measured no behaviour task: what it does cannot be told here, only what it costs"
            )  # fmt: skip
        lines += [s for s in (_costs(rows, alpha), _off_target(rows, alpha)) if s]
        lines += [w for w in holds_words if w.startswith(f"{vector} ")]
        cards.append(
            {"vector": vector, "anchor": slug(str(vector)), "target": target or "", "verdict": verdict,
             "lines": lines, "cells": len(rows), "arm": False}
        )  # fmt: skip
    return cards
