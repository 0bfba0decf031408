"""Factorial pairs (`--combine pairs` or A+B, run/combinations.py): does a vector keep its effect when
another is on? For each pair cell (A at strength a with B at strength b) against the two singles at those
very strengths and layers, per item: I_i = (joint_i - base_i) - (A_i - base_i) - (B_i - base_i), on the
behaviour measure and, where the task has one, on propensity. Mean, t interval and paired t-test p-value
(paired_continuous), as for `--combine` (interactions.py).

Reference: the placebo pair (A with a random vector of B's norm, same strengths) says how far adding *any*
such vector bends A's effect (the model is not linear, and a bounded measure saturates). A pair interacts
only where its interaction is significant *and* differs from the placebo pair's on the same items (an
intersection-union test: the larger of the two p-values). Those p-values are corrected across every pair
cell of the run (Holm or BH, as the run's main cells). Verdict per cell: `more than additive`, `less than
additive`, or `no detectable interaction`; per pair and task, the plain words of its strongest interaction
("A loses 60% of its effect on T when B is on"), with the pair's cosine and unit overlap beside it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from steer_eval.analysis.interactions import match_singles, single_index
from steer_eval.analysis.load import CellData, check_paired
from steer_eval.analysis.stats import adjusted, paired_continuous

MORE, LESS, NONE = "more than additive", "less than additive", "no detectable interaction"


def _item_interaction(combo: CellData, parts: list[CellData], base: CellData, measure: str) -> np.ndarray:
    values = [getattr(c, measure) for c in (combo, *parts, base)]
    joint, first, second, b = values
    return (joint - b) - (first - b) - (second - b)


def _placebo_key(cell: CellData) -> tuple:
    return (cell.pair, cell.task, cell.member_alphas, cell.positions, cell.fewshot, cell.option_order)


def pair_rows(pair_cells: list[CellData], cells: list[CellData], base: dict, settings) -> tuple[list[dict], list[str]]:
    """One row per (real) pair cell with its singles, interaction and placebo-pair reference; notes for
    cells that cannot be paired."""
    singles, labels = single_index(cells)
    placebos = {}
    for cell in pair_cells:
        if cell.placebo_for:
            placebos[(cell.placebo_for, *_placebo_key(cell)[1:])] = cell
    rows, notes = [], []
    for combo in (c for c in pair_cells if not c.placebo_for):
        baseline = base.get(combo.group)
        if baseline is None:
            continue  # a partial run: the baseline is not done yet
        parts = match_singles(combo, singles, labels)
        if isinstance(parts, str):
            notes.append(f"pair {combo.vector} on {combo.task} skipped: {parts}")
            continue
        for cell in (*parts, combo):
            check_paired(baseline, cell)
        rows.append(_row(combo, parts, baseline, placebos.get(_placebo_key(combo)), singles, labels, settings))
    _correct(rows, settings)
    for row in rows:
        row["verdict"] = _verdict(row, settings.alpha)
    return rows, notes


def _row(combo, parts, baseline, placebo, singles, labels, settings) -> dict[str, Any]:
    first, second = parts
    interaction = _item_interaction(combo, parts, baseline, "correct")
    joint = combo.correct - baseline.correct
    effect = paired_continuous(joint - interaction, joint, settings.level)  # joint vs the sum of the singles
    row: dict[str, Any] = {
        "task": combo.task,
        "pair": combo.pair,
        "first": first.vector,
        "second": second.vector,
        "alpha_first": combo.member_alphas[0],
        "alpha_second": combo.member_alphas[1],
        "positions": combo.positions,
        "n": len(combo.item_ids),
        "first_delta": float((first.correct - baseline.correct).mean()),
        "second_delta": float((second.correct - baseline.correct).mean()),
        "joint_delta": float(joint.mean()),
        "additive": float((joint - interaction).mean()),
        "interaction": effect.delta,
        "ci_low": effect.ci_low,
        "ci_high": effect.ci_high,
        "p_value": effect.p_value,
        "cell": combo.key,
        "single_cells": [first.key, second.key],
    }
    if not np.isnan([c.propensity for c in (combo, first, second, baseline)]).any():
        on_propensity = _item_interaction(combo, parts, baseline, "propensity")
        prop = paired_continuous(np.zeros_like(on_propensity), on_propensity, settings.level)
        row.update(propensity_interaction=prop.delta, propensity_ci_low=prop.ci_low,
                   propensity_ci_high=prop.ci_high, propensity_p=prop.p_value)  # fmt: skip
    row.update(_against_placebo(interaction, placebo, baseline, singles, labels, settings.level))
    return row


def _against_placebo(interaction, placebo, baseline, singles, labels, level) -> dict[str, Any]:
    """The placebo pair's interaction on the same items, and the pair's against it (paired)."""
    if placebo is None:
        return {"placebo_pair": None}
    parts = match_singles(placebo, singles, labels)
    if isinstance(parts, str):
        return {"placebo_pair": None}
    for cell in (*parts, placebo):
        check_paired(baseline, cell)
    reference = _item_interaction(placebo, parts, baseline, "correct")
    versus = paired_continuous(reference, interaction, level)
    return {
        "placebo_pair": placebo.vector,
        "placebo_interaction": float(reference.mean()),
        "vs_placebo_delta": versus.delta,
        "vs_placebo_ci_low": versus.ci_low,
        "vs_placebo_ci_high": versus.ci_high,
        "vs_placebo_p": versus.p_value,
    }


def _correct(rows: list[dict], settings) -> None:
    """q over every pair cell: the interaction's p, or where a placebo pair exists the larger of it and the
    p against the placebo pair (both must hold to call the pair interacting); the propensity interaction's
    p corrected as its own family."""
    for row in rows:
        row["p_joint"] = max(row["p_value"], row.get("vs_placebo_p", 0.0) or 0.0)
    for column, target in (("p_joint", "q_value"), ("propensity_p", "propensity_q")):
        tested = [r for r in rows if not math.isnan(r.get(column, math.nan))]
        if tested:
            qs = adjusted([r[column] for r in tested], settings.correction, settings.alpha)
            for row, q in zip(tested, qs, strict=True):
                row[target] = float(q)


def _verdict(row: dict, alpha: float) -> str:
    if row.get("q_value", 1.0) >= alpha:
        return NONE
    placebo = row.get("vs_placebo_delta")
    if placebo is not None and np.sign(placebo) != np.sign(row["interaction"]):
        return NONE  # significant against 0 and against the placebo, but in opposite directions: no claim
    return MORE if row["interaction"] > 0 else LESS


def pair_summary(rows: list[dict], geometry: list[dict]) -> list[dict[str, Any]]:
    """Per pair and task: the verdict (interacting if any cell is), counts of each kind, the words of the
    strongest cell of each kind found, the cosine and unit overlap."""
    shapes = {g.get("pair"): g for g in geometry if isinstance(g, dict)}
    grouped: dict[tuple, list[dict]] = {}
    for row in rows:
        grouped.setdefault((row["pair"], row["task"]), []).append(row)
    out = []
    for (pair, task), cells in grouped.items():
        found = [c for c in cells if c["verdict"] != NONE]
        shape = shapes.get(pair, {})
        if found:
            kinds = [[c for c in found if c["verdict"] == v] for v in (MORE, LESS)]
            words = "; ".join(
                _words(max(kind, key=lambda c: abs(c["interaction"])), len(kind), len(cells))
                for kind in sorted(kinds, key=len, reverse=True)  # the more common kind first
                if kind
            )
        else:
            words = _additive_words(max(cells, key=lambda c: abs(c["interaction"])), len(cells))
        out.append(
            {
                "pair": pair,
                "task": task,
                "cells": len(cells),
                "more_than_additive": sum(c["verdict"] == MORE for c in cells),
                "less_than_additive": sum(c["verdict"] == LESS for c in cells),
                "verdict": "interacting" if found else NONE,
                "words": words,
                "cosine": shape.get("cosine"),
                "unit_overlap": shape.get("unit_overlap"),
                "placebo_pair": shape.get("placebo"),
            }
        )
    return out


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _stats(row: dict) -> str:
    text = (
        f"interaction {_points(row['interaction'])} points [{_points(row['ci_low'])}, {_points(row['ci_high'])}], "
        f"q = {row.get('q_value', math.nan):.2g}"
    )
    if row.get("placebo_pair"):
        text += f"; placebo pair {_points(row['placebo_interaction'])}"
    return text


def _names(row: dict) -> tuple[str, str]:
    return f"{row['first']} x{row['alpha_first']:g}", f"{row['second']} x{row['alpha_second']:g}"


def _additive_words(row: dict, cells: int) -> str:
    a, b = _names(row)
    beyond = " beyond its placebo pair's" if row.get("placebo_pair") else ""
    return (
        f"{row['first']} and {row['second']} add up on {row['task']}: no strength pair of {cells} shows an "
        f"interaction{beyond} that the data can detect (largest: {a} with {b}, {_stats(row)})"
    )


def _words(row: dict, count: int, cells: int) -> str:
    """The plain words of one cell: which member loses how much of its effect, or what they do together."""
    a, b = _names(row)
    where = f"{count} of {cells} strength pairs {row['verdict']}"
    if row["verdict"] == MORE:
        return (
            f"{a} and {b} do more together on {row['task']} than apart: {_points(row['joint_delta'])} points "
            f"together where the singles add to {_points(row['additive'])} ({_stats(row)}; {where})"
        )
    # the member with the larger effect alone is the one that loses: its effect once the other is on
    first_larger = abs(row["first_delta"]) >= abs(row["second_delta"])
    losing, other = ("first", "second") if first_larger else ("second", "first")
    alone = row[f"{losing}_delta"]
    with_other = row["joint_delta"] - row[f"{other}_delta"]
    share = 1 - with_other / alone if alone else math.nan
    name, other_name = (a, b) if first_larger else (b, a)
    words = (
        f"{name} loses {100 * share:.0f}% of its effect on {row['task']} when {other_name} is on "
        f"({_points(alone)} points alone, {_points(with_other)} with it; {_stats(row)}; {where})"
    )
    if math.isclose(row["joint_delta"], alone, abs_tol=1e-9) and alone:
        words += (
            f"; together they do exactly what {name} does alone, as when every item either can move has moved "
            "(a ceiling of the task, not necessarily interference)"
        )
    return words
