"""Heterogeneity: effects within subgroups of items (BBQ's ambiguous vs disambiguated contexts) and
pooled over sets of tasks (the registry's groups such as MMLU and its categories, and the run's families
and kinds), paired at the item level, in the wanted direction of each task."""

from __future__ import annotations

from typing import Any

import numpy as np

from steer_eval.analysis.load import CellData
from steer_eval.analysis.stats import paired_binary, paired_effect


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
                    "condition": cell.condition,
                    "option_order": cell.option_order,
                    "n": int(mask.sum()),
                    "delta": effect.delta,
                    "ci_low": effect.ci_low,
                    "ci_high": effect.ci_high,
                    "p_value": effect.p_value,
                }
            )
    return rows


def pooled_memberships(cells: list[CellData]) -> dict[str, tuple[str, set[str]]]:
    """What effects are pooled over: name -> (level, the task names in it). The registry's groups (MMLU and
    its categories, BBQ, ...), and the run's families and kinds (all its knowledge tasks, all its
    intelligence tasks). Names are task selectors, so `steer-eval check` can ask for them."""
    from steer_eval.tasks.registry import all_tasks

    out: dict[str, tuple[str, set[str]]] = {}
    registry = all_tasks()
    for cell in cells:
        spec = registry.get(cell.registry) if cell.registry else None
        for group in spec.groups if spec else ():
            out.setdefault(group, ("group", set()))[1].add(cell.task)
        if cell.family != "user":
            out.setdefault(cell.family, ("family", set()))[1].add(cell.task)
        out.setdefault(cell.kind, ("kind", set()))[1].add(cell.task)
    return out


def wanted_outcome(cell: CellData) -> np.ndarray:
    """1 where the item's answer is the wanted one: the target where more of it is wanted, anything else
    where the target is the unwanted behaviour (CAA sycophancy)."""
    return cell.correct if cell.target_is_desired is not False else 1 - cell.correct


def pooled_group_rows(
    cells: list[CellData], baselines: dict, rng: np.random.Generator, settings
) -> list[dict[str, Any]]:
    """Per vector setting and pooled set of tasks: the paired change in the share of wanted answers over all
    the set's items (for tasks that all want their target, the change in accuracy over the pooled items; with
    graded scores among them, the change in the mean wanted score).
    Probes (no wanted answer) and tasks without per-item correctness are left out of a pool."""
    memberships = pooled_memberships(cells)
    series: dict[tuple, list[CellData]] = {}
    for cell in cells:
        if cell.vector is not None:
            series.setdefault(
                (cell.vector, cell.alpha, cell.layer, cell.positions, cell.fewshot, cell.option_order, cell.condition),
                [],
            ).append(cell)
    rows = []
    for (vector, alpha, layer, positions, fewshot, order, condition), members in series.items():
        by_task = {c.task: c for c in members}
        for name, (level, tasks) in memberships.items():
            present = [by_task[t] for t in sorted(tasks) if t in by_task]
            pairs = [
                (baselines[c.group], c)
                for c in present
                if c.group in baselines and c.target_is_desired is not None and not np.isnan(c.correct).any()
            ]
            if len(pairs) < 2:
                continue
            b = np.concatenate([wanted_outcome(base) for base, _ in pairs])
            s = np.concatenate([wanted_outcome(c) for _, c in pairs])
            # graded members (a judge's rating, a mean over --samples draws; all in [0, 1]) make the pool graded:
            # its mean change and t-test, never their values rounded to 0/1
            effect = paired_effect(b, s, rng, settings.bootstrap, settings.level)
            rows.append(
                {
                    "group": name,
                    "level": level,
                    "tasks": len(pairs),
                    "vector": vector,
                    "alpha": alpha,
                    "layer": layer,
                    "positions": positions,
                    "fewshot": fewshot,
                    "option_order": order,
                    "condition": condition,
                    "n": len(b),
                    "baseline": effect.baseline,
                    "steered": effect.steered,
                    "delta": effect.delta,
                    "ci_low": effect.ci_low,
                    "ci_high": effect.ci_high,
                    "p_value": effect.p_value,
                    "desired_sign": 1,  # the outcome is already the wanted one
                }
            )
    return rows
