"""How stable a vector's result is when its training items are resampled (issue 19): the cells of the
bootstrap resamples a vector file stores (`vectors build --resamples R`), run as further vectors of the same
sweep, are analysed apart from the main cells (they never enter the main tables) and summarised on the
vector's own rows: how many resamples ran, the lowest and highest effect among them (with a handful of
resamples, their range rather than percentiles), and `verdict_stability`, the share of resamples whose
verdict is the vector's. Each resample is judged by the vector's rules: paired against the same baseline,
against the vector's placebo draws, its p-value scaled by the vector's own correction factor (q / p), so a
resample carries the multiplicity burden its vector carries."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from steer_eval.analysis.controls import against, against_draws
from steer_eval.analysis.effects import effect_row
from steer_eval.analysis.load import CellData
from steer_eval.analysis.verdicts import verdict


def _setting(cell: CellData, label: str) -> tuple:
    return (cell.task, label, cell.alpha, cell.layer, cell.positions, cell.fewshot, cell.option_order, cell.condition)


def resample_columns(
    rows: list[dict[str, Any]], cells: list[CellData], resampled: list[CellData], base: dict, rng, settings
) -> None:
    """Add `resamples`, `resample_delta_low`, `resample_delta_high` and `verdict_stability` to the vector rows
    whose vector has resample cells."""
    if not resampled:
        return
    by_setting: dict[tuple, list[CellData]] = {}
    for cell in resampled:
        by_setting.setdefault(_setting(cell, cell.resample_of), []).append(cell)
    controls: dict[tuple, list[CellData]] = {}
    for cell in cells:
        if cell.control_of is not None:
            controls.setdefault(_setting(cell, cell.control_of), []).append(cell)
    main = {cell.key: cell for cell in cells}
    for row in rows:
        cell = main.get(row["cell"])
        if cell is None or row["is_control"] or cell.arm is not None:
            continue
        group = by_setting.get(_setting(cell, cell.vector), [])
        baseline = base.get(cell.group)
        if not group or baseline is None:
            continue
        draws = controls.get(_setting(cell, cell.vector), [])
        factor = row["q_value"] / row["p_value"] if row.get("p_value") else 1.0
        deltas, verdicts = [], []
        for member in group:
            judged = effect_row(baseline, member, rng, settings)
            if draws:
                compared = (
                    against(draws[0], member, rng, settings, "vs_placebo_")
                    if len(draws) == 1
                    else against_draws(draws, member, baseline, settings)
                )
                judged.update({k: v for k, v in (compared or {}).items() if k.startswith("vs_placebo_")})
            p = judged.get("p_value", math.nan)
            judged["q_value"] = min(1.0, p * factor) if not math.isnan(p) and not math.isnan(factor) else math.nan
            judged["noninferiority_q"] = min(1.0, judged.get("noninferiority_p", math.nan) * factor)
            deltas.append(judged.get("delta", math.nan))
            verdicts.append(verdict(judged, settings)[0])
        measured = [d for d in deltas if not math.isnan(d)]
        row["resamples"] = len(group)
        row["resample_delta_low"] = float(np.min(measured)) if measured else math.nan
        row["resample_delta_high"] = float(np.max(measured)) if measured else math.nan
        row["verdict_stability"] = sum(v == row["verdict"] for v in verdicts) / len(verdicts)
