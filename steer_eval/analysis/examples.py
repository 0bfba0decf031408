"""Items whose answer a vector flipped (wrong -> right and right -> wrong), with their text from the
baseline cell, for the report's examples."""

from __future__ import annotations

from typing import Any

import numpy as np

from steer_eval.analysis.load import CellData


def flip_rows(
    cells: list[CellData], baselines: dict, texts: dict[str, dict[str, dict]], per_cell: int = 2
) -> list[dict[str, Any]]:
    rows = []
    for cell in cells:
        base = baselines.get(cell.group)
        if (
            cell.vector is None
            or cell.control_of is not None
            or cell.option_order != 0
            or cell.condition
            or base is None
        ):
            continue
        if cell.output == "generate_until":
            continue  # written texts have their own section (analysis/texts.py)
        if np.isnan(cell.correct).any() or np.isnan(base.correct).any():
            continue
        task_texts = texts.get(base.key, {})
        for direction, mask in (
            ("wrong -> right", (base.correct == 0) & (cell.correct == 1)),
            ("right -> wrong", (base.correct == 1) & (cell.correct == 0)),
        ):
            for index in np.flatnonzero(mask)[:per_cell]:
                item = cell.item_ids[index]
                info = task_texts.get(item, {})
                choices = info.get("choices", [])
                rows.append(
                    {
                        "cell": cell.key,
                        "task": cell.task,
                        "vector": cell.vector,
                        "alpha": cell.alpha,
                        "layer": cell.layer,
                        "direction": direction,
                        "item_id": item,
                        "text": info.get("text", ""),
                        "before": _choice(choices, base.chosen[index]),
                        "after": _choice(choices, cell.chosen[index]),
                    }
                )
    return rows


def _choice(choices: list[str], index: int) -> str:
    return choices[index].strip() if 0 <= index < len(choices) else (str(index) if index >= 0 else "")
