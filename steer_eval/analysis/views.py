"""Which effect rows make the main view a user reads first: the original option order under the default
condition. Rotated orders serve the artifact check, other conditions (templates, pressure, earlier turns)
the "where it holds" section; each is corrected as its own family."""

from __future__ import annotations

import pandas as pd


def main(rows: pd.DataFrame | dict):
    """A boolean mask over an effects frame, or a bool for one row."""
    if isinstance(rows, pd.DataFrame):
        condition = rows["condition"].fillna("") if "condition" in rows else ""
        return (rows["option_order"] == 0) & (condition == "")
    return rows.get("option_order", 0) == 0 and not rows.get("condition")
