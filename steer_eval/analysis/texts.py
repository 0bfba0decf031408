"""What the steered model wrote, for the report's free-text section: for a few prompts of each generation
task, the unsteered text and each vector's text at each strength, with their scores. The prompts shown are
the ones whose scores the vectors changed most often, then whose texts they changed most often (spacing
aside; ties: the task's item order), so the section shows steering at work rather than the items nothing
moved."""

from __future__ import annotations

from typing import Any

import numpy as np

from steer_eval.analysis.load import CellData


def free_text_rows(
    cells: list[CellData], baselines: dict, prompts: dict[str, dict[str, dict]], per_task: int = 3
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for base in (
        c for c in cells if c.vector is None and c.texts is not None and c.option_order == 0 and not c.condition
    ):
        steered = [
            c
            for c in cells
            if c.group == base.group and c.vector is not None and c.control_of is None and c.texts is not None
        ]
        if not steered:
            continue
        scores, texts = np.zeros(len(base.item_ids), dtype=int), np.zeros(len(base.item_ids), dtype=int)
        for cell in steered:
            scores += ~np.isclose(cell.correct, base.correct, equal_nan=True)
            texts += np.array([a.split() != b.split() for a, b in zip(cell.texts, base.texts, strict=True)], dtype=int)
        chosen = sorted(np.lexsort((np.arange(len(texts)), -texts, -scores))[:per_task])
        shown = prompts.get(base.key, {})
        for index in chosen:
            item = base.item_ids[index]
            common = {"task": base.task, "item_id": item, "prompt": shown.get(item, {}).get("text", "")}
            rows.append({**common, **_entry(base, index)})
            for cell in sorted(steered, key=lambda c: (c.vector, c.layer or -1, str(c.positions), c.alpha)):
                rows.append({**common, **_entry(cell, index)})
    return rows


def _entry(cell: CellData, index: int) -> dict[str, Any]:
    score = cell.correct[index]
    return {
        "vector": cell.vector or "",
        "alpha": cell.alpha,
        "layer": cell.layer,
        "positions": cell.positions,
        "text": cell.texts[index] if cell.texts else "",
        "score": None if np.isnan(score) else float(score),
        "nll": None if cell.nll is None or np.isnan(cell.nll[index]) else float(cell.nll[index]),
    }
