"""Layer stability (issue 19): how a vector's validation effect varies over the layers (and strengths) its
builder tried, from the selection record in the vector file (`extra.selection`: the validation split's
target rate per layer and strength, and the baseline's), so a reader sees whether the chosen layer is a
clear peak or one of several alike.

The record keeps rates, not items, so the interval of each change is the unpaired Newcombe interval for a
difference of two proportions (statsmodels): conservative for these paired cells (same validation items)."""

from __future__ import annotations

from typing import Any

from statsmodels.stats.proportion import confint_proportions_2indep

from steer_eval.errors import SteerEvalError


def layer_profiles(manifest: dict, level: float = 0.95) -> list[dict[str, Any]]:
    """One row per vector (not placebos) x layer x strength its validation selection tried."""
    from steer_eval.vectors.files import read_vector_file

    rows = []
    for label, info in (manifest.get("vectors") or {}).items():
        if (
            not isinstance(info, dict)
            or "path" not in info
            or any(info.get(k) for k in ("control_of", "resample_of", "pair"))
        ):
            continue
        try:
            selection = read_vector_file(info["path"]).meta.extra.get("selection")
        except (SteerEvalError, OSError):
            continue
        if not isinstance(selection, dict) or not selection.get("cells") or not selection.get("n_items"):
            continue
        n = int(selection["n_items"])
        base = float(selection["baseline"]["accuracy"])
        chosen = selection.get("chosen") or {}
        for cell in selection["cells"]:
            rate = float(cell["accuracy"])
            low, high = confint_proportions_2indep(
                round(rate * n), n, round(base * n), n, method="newcomb", alpha=1 - level
            )
            rows.append(
                {
                    "vector": label,
                    "layer": cell.get("layer"),
                    "alpha": float(cell["alpha"]),
                    "validation_rate": rate,
                    "validation_delta": rate - base,
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "n_items": n,
                    "target_is_desired": selection.get("target_is_desired"),
                    "chosen": cell.get("layer") == chosen.get("layer") and cell["alpha"] == chosen.get("alpha"),
                }
            )
    return rows
