"""The report's table of every cell (issue 23): all rows of effects.csv (every condition, option order,
placebo and arm), sortable, filterable by task, vector, verdict and condition and searchable in the page (an
inline script, no network), each vector's rows reachable from its card. The rows travel as one JSON data
block (`table_data`: field names once, then a list per row), which the script turns into table rows a page at a
time with `textContent`: a 10,000-cell table costs the first load one page of rows, not 10,000, and no value
is ever parsed as markup."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from steer_eval.analysis.saturation import is_saturated
from steer_eval.report.figures import VERDICT_COLOURS, VERDICT_MARKS


def fmt(value: Any, digits: int = 3) -> str:
    """A number as the report prints it ('' when missing); shared with build.py."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def flag(value: Any) -> bool:
    """A boolean column's value (missing: False); shared with cards.py."""
    return False if value is None or pd.isna(value) else bool(value)


def _number(value: Any) -> float | None:
    """A sort key for the page's script (None sorts last)."""
    return None if value is None or pd.isna(value) else float(value)


def _condition(row: pd.Series) -> str:
    parts = [str(row["condition"])] if isinstance(row.get("condition"), str) and row["condition"] else []
    if row.get("option_order"):
        parts.append(f"option order {int(row['option_order'])}")
    return ", ".join(parts) or "default"


def cell_rows(effects: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row of effects.csv, with the texts the table prints and the keys its sort reads."""
    rows = []
    for _, row in effects.iterrows():
        delta, low, high = row["delta"], row["ci_low"], row["ci_high"]
        placebo = row.get("vs_placebo_delta")
        rows.append(
            {
                "task": str(row["task"]),
                "vector": str(row["vector"]),
                "role": "placebo" if flag(row["is_control"]) else "arm" if isinstance(row.get("arm"), str) else
                "vector",
                "alpha": "" if row["alpha"] == 0 else f"{row['alpha']:g}",
                "alpha_key": _number(row["alpha"]),
                "selected": int(flag(row.get("selected"))),
                "layer": "" if pd.isna(row["layer"]) else int(row["layer"]),
                "condition": _condition(row),
                "n": int(row["n"]),
                "baseline": fmt(row["baseline"]),
                "steered": fmt(row["steered"]),
                "change": "" if pd.isna(delta) else f"{100 * delta:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]",
                "change_key": _number(delta),
                "q": "" if pd.isna(row["q_value"]) else f"{row['q_value']:.2g}",
                "q_key": _number(row["q_value"]),
                "placebo": "" if placebo is None or pd.isna(placebo) else f"{100 * placebo:+.1f}",
                "verdict": str(row["verdict"]),
                # an effect on a behaviour of another family (a no-effect there is just no effect)
                "off_target": int(str(row.get("on_target")) == "False" and row["verdict"] in ("helps", "hurts")),
                "saturated": int(is_saturated(row.get("saturated"))),
                "reason": row["verdict_reason"] if isinstance(row["verdict_reason"], str) else "",
            }
        )  # fmt: skip
    return rows


def filters(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The values each filter offers, in first-seen order."""
    return {key: list(dict.fromkeys(str(r[key]) for r in rows)) for key in ("task", "vector", "verdict", "condition")}


# What the page's script reads of each row, in this order (its `fields`); texts as printed, keys for sorting.
FIELDS = ("task", "vector", "role", "alpha", "alpha_key", "selected", "layer", "condition", "n", "baseline",
          "steered", "change", "change_key", "q", "q_key", "placebo", "verdict", "off_target", "saturated",
          "reason")  # fmt: skip


def table_data(rows: list[dict[str, Any]], page_rows: int) -> dict[str, Any]:
    """The JSON block the template embeds (`|tojson`, which escapes `<`, `>` and `&`, so no text can close
    the block): the fields once, each row as a list, each verdict's colour index and mark, the page size."""
    order = list(VERDICT_COLOURS)
    return {
        "fields": list(FIELDS),
        "rows": [[row[field] for field in FIELDS] for row in rows],
        "verdicts": {name: [index + 1, VERDICT_MARKS.get(name, "")] for index, name in enumerate(order)},
        "page": page_rows,
    }
