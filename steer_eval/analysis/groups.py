"""Heterogeneity: effects within subgroups of items (BBQ's ambiguous vs disambiguated contexts) and
pooled over the tasks of a group (MMLU's categories, BBQ's categories, ...), paired at the item level."""

from __future__ import annotations

from typing import Any

import numpy as np

from steer_eval.analysis.load import CellData
from steer_eval.analysis.stats import paired_binary


def subgroup_rows(cells: list[CellData], baselines: dict, rng: np.random.Generator, settings) -> list[dict[str, Any]]:
    rows = []
    for cell in cells:
        base = baselines.get(cell.group)
        if cell.vector is None or base is None or not cell.bbq or np.isnan(cell.correct).any():
            continue
        for condition in ("ambig", "disambig"):
            mask = cell.bbq["condition"] == condition
            if mask.sum() < 2:
                continue
            effect = paired_binary(base.correct[mask], cell.correct[mask], rng, settings.bootstrap, settings.level)
            rows.append(
                {
                    "cell": cell.key,
                    "task": cell.task,
                    "vector": cell.vector,
                    "alpha": cell.alpha,
                    "layer": cell.layer,
                    "subgroup": f"context={condition}",
                    "n": int(mask.sum()),
                    "delta": effect.delta,
                    "ci_low": effect.ci_low,
                    "ci_high": effect.ci_high,
                    "p_value": effect.p_value,
                }
            )
    return rows


def pooled_group_rows(
    cells: list[CellData], baselines: dict, rng: np.random.Generator, settings
) -> list[dict[str, Any]]:
    from steer_eval.tasks.registry import all_tasks

    registry = all_tasks()
    membership: dict[str, list[str]] = {}
    for spec in registry.values():
        for group in spec.groups:
            membership.setdefault(group, []).append(spec.name)
    series: dict[tuple, list[CellData]] = {}
    for cell in cells:
        if cell.vector is not None and cell.registry is not None:
            series.setdefault(
                (cell.vector, cell.alpha, cell.layer, cell.positions, cell.fewshot, cell.option_order), []
            ).append(cell)
    rows = []
    for (vector, alpha, layer, positions, fewshot, order), members in series.items():
        by_registry = {c.registry: c for c in members}
        for group, names in membership.items():
            present = [by_registry[n] for n in names if n in by_registry]
            if len(present) < 2:
                continue
            pairs = [(baselines.get(c.group), c) for c in present]
            if any(b is None or np.isnan(c.correct).any() for b, c in pairs):
                continue
            b = np.concatenate([b.correct for b, _ in pairs])
            s = np.concatenate([c.correct for _, c in pairs])
            effect = paired_binary(b, s, rng, settings.bootstrap, settings.level)
            rows.append(
                {
                    "group": group,
                    "tasks": len(present),
                    "vector": vector,
                    "alpha": alpha,
                    "layer": layer,
                    "positions": positions,
                    "fewshot": fewshot,
                    "option_order": order,
                    "n": len(b),
                    "baseline": effect.baseline,
                    "steered": effect.steered,
                    "delta": effect.delta,
                    "ci_low": effect.ci_low,
                    "ci_high": effect.ci_high,
                    "p_value": effect.p_value,
                }
            )
    return rows
