"""Interactions of vectors applied together: for a combination cell (every vector at once, `--combine`),
the combined effect against the sum of the single vectors' effects at the same strength, per item:
I_i = (combined_i - baseline_i) - sum_k (single_k,i - baseline_i). Mean, t interval and paired t-test p-value
(paired_continuous): I > 0 means the vectors do more together than apart, I < 0 that they interfere.

Each member's single cell must be the one that applied it exactly as the combination did: the same vector
at the same layer (the combination cell records each member's layer, `member_layers`), position mode,
strength, task, few-shot count and option order. With `--layers` a vector has singles at several layers,
and any other layer's single would measure another intervention; a combination that cannot be matched so
is skipped with a note rather than paired with a guess."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from steer_eval.analysis.load import CellData, check_paired
from steer_eval.analysis.stats import paired_continuous


def _single_key(sha: str | None, layer: int | None, cell: CellData, alpha: float) -> tuple:
    return (sha, layer, cell.task, alpha, cell.positions, cell.fewshot, cell.option_order, cell.condition)


def single_index(cells: list[CellData]) -> tuple[dict[tuple, list[CellData]], dict[str, str]]:
    """Every single-vector cell (placebos included, rival arms not) by what it applied, and vector labels by sha."""
    singles: dict[tuple, list[CellData]] = defaultdict(list)
    labels: dict[str, str] = {}
    for c in cells:
        if c.vector is not None and not c.members and c.arm is None:
            singles[_single_key(c.vector_sha, c.layer, c, c.alpha)].append(c)
            labels[c.vector_sha or ""] = c.vector
    return singles, labels


def _layer_words(layer: int | None) -> str:
    return "all its layers" if layer is None else f"layer {layer}"


def match_singles(
    combo: CellData, singles: dict[tuple, list[CellData]], labels: dict[str, str]
) -> list[CellData] | str:
    """The single cells of `combo`'s members, in member order, or why they cannot be told unambiguously."""
    layers = combo.member_layers
    if layers is None or len(layers) != len(combo.members):
        return (
            "its cell does not record the layers its members were applied at (written by an older steer-eval; "
            "running the job again recomputes it)"
        )
    parts = []
    scales = combo.member_alphas or (1.0,) * len(combo.members)  # a factorial pair: each member's own strength
    for sha, layer, scale in zip(combo.members, layers, scales, strict=True):
        found = {c.key: c for c in singles.get(_single_key(sha, layer, combo, combo.alpha * scale), [])}
        name = labels.get(sha, sha[:12])
        if not found:
            return f"the run has no single cell of {name} at {_layer_words(layer)}, where the combination applied it"
        if len(found) > 1:
            return f"{len(found)} different single cells of {name} at {_layer_words(layer)} match; which one is unclear"
        parts.extend(found.values())
    return parts


def interaction_rows(cells: list[CellData], baselines: dict, level: float) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per combination cell paired with its members' singles, and a note per one that is skipped."""
    singles, labels = single_index(cells)
    rows, notes = [], []
    for combo in cells:
        if not combo.members:
            continue
        base = baselines.get(combo.group)
        if base is None or np.isnan(combo.correct).any():
            continue  # no baseline yet (a partial run) or no per-item correctness: nothing to pair
        parts = match_singles(combo, singles, labels)
        if isinstance(parts, str):
            notes.append(
                f"interaction of {combo.vector} on {combo.task} at strength {combo.alpha:g} (few-shot "
                f"{combo.fewshot}, option order {combo.option_order}) skipped: {parts}"
            )
            continue
        for part in parts:
            check_paired(base, part)
        check_paired(base, combo)
        summed = sum(part.correct - base.correct for part in parts)
        effect = paired_continuous(summed, combo.correct - base.correct, level)
        rows.append(
            {
                "task": combo.task,
                "combination": combo.vector,
                "member_layers": ", ".join(f"{part.vector} @ {_layer_words(part.layer)}" for part in parts),
                "alpha": combo.alpha,
                "positions": combo.positions,
                "fewshot": combo.fewshot,
                "option_order": combo.option_order,
                "n": len(combo.item_ids),
                "combined_delta": float((combo.correct - base.correct).mean()),
                "sum_of_singles": float(summed.mean()),
                "interaction": effect.delta,
                "ci_low": effect.ci_low,
                "ci_high": effect.ci_high,
                "p_value": effect.p_value,
                "single_cells": [part.key for part in parts],
                "cell": combo.key,
            }
        )
    return rows, notes
