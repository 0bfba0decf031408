"""Where it holds, per vector (issue 18): from the effect rows under the default condition and under each
other condition (templates, pressure prompts, earlier turns) at the same strength, layer and positions:
the share of conditions where it still helps, the worst condition, the share of its gain kept under each
pressure (the steered rate under pressure against the unsteered rate without it, as a share of the gain
without pressure: a pressure also moves the unsteered model, so the change against its own baseline alone
would count the pressure's push as the vector's), the persistence curve (effect with its interval against
the number of earlier turns), and the plain words the report prints. Rival prompt arms are summarised the
same way, so a vector's loss under pressure can be set against asking's."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

SETTING = ["task", "vector", "alpha", "layer", "positions", "fewshot"]


def robustness_rows(effects: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per vector setting (and rival arm) measured under at least one other condition."""
    if effects.empty or "condition" not in effects:
        return []
    rows = effects[(effects["option_order"] == 0) & ~effects["is_control"].astype(bool)].copy()
    rows["condition"] = rows["condition"].fillna("")
    out = []
    for key, group in rows.groupby(SETTING, dropna=False, sort=False):
        default = group[group["condition"] == ""]
        others = group[group["condition"] != ""]
        if default.empty or others.empty:
            continue
        base = default.iloc[0]
        sign = int(base["desired_sign"])
        worst = min(
            others.to_dict("records"), key=lambda r, s=sign: s * r["delta"] if pd.notna(r["delta"]) else -math.inf
        )
        helps = int((group["verdict"] == "helps").sum())
        out.append(
            {
                **dict(zip(SETTING, key, strict=True)),
                "default_delta": _num(base["delta"]),
                "default_verdict": base["verdict"],
                "conditions": len(group),
                "helps_in": helps,
                "helps_share": helps / len(group),
                "worst_condition": worst["condition"],
                "worst_delta": _num(worst["delta"]),
                "desired_sign": sign,
                "templates": _levels(group, "template", default_level=0),
                "pressure_kept": {
                    r["pressure"]: _kept(base, r) for r in others.to_dict("records") if isinstance(r["pressure"], str)
                },
                "pressure_steered": {
                    r["pressure"]: _num(r["steered"])
                    for r in others.to_dict("records")
                    if isinstance(r["pressure"], str)
                },
                "persistence": _levels(group, "turns", default_level=0),
            }
        )
    return out


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _kept(default, pressed) -> float | None:
    """(steered under pressure - unsteered without) / (steered without - unsteered without)."""
    values = (default["steered"], default["baseline"], pressed["steered"])
    if any(pd.isna(v) for v in values) or default["steered"] == default["baseline"]:
        return None
    return float((pressed["steered"] - default["baseline"]) / (default["steered"] - default["baseline"]))


def _levels(group: pd.DataFrame, factor: str, default_level) -> list[dict[str, Any]]:
    """The effect at each level of `factor` (the default condition as its level 0), with its interval."""
    others = [f for f in ("template", "pressure", "turns") if f != factor]
    mask = pd.Series(True, index=group.index)
    for other in others:
        column = group[other]
        mask &= column.isna() | (column == 0) | (column == "")
    chosen = group[mask]
    if chosen[factor].fillna(default_level).nunique() < 2:
        return []
    return [
        {"level": int(r[factor]) if pd.notna(r[factor]) else default_level, "delta": _num(r["delta"]),
         "ci_low": _num(r["ci_low"]), "ci_high": _num(r["ci_high"]), "verdict": r["verdict"]}
        for r in chosen.sort_values(factor).to_dict("records")
    ]  # fmt: skip


def holds_words(row: dict[str, Any]) -> str:
    """'VECTOR at 1 on TASK: helps under 4 of 6 conditions; holds under 3 of 3 templates; keeps 40% of its effect
    under pressure=insist; fades by half after 8 turns'."""
    parts = [f"helps under {row['helps_in']} of {row['conditions']} conditions"]
    templates = row["templates"]
    if templates:
        held = sum(t["verdict"] == row["default_verdict"] for t in templates)
        parts.append(f"{row['default_verdict']} under {held} of {len(templates)} templates")
    for name, kept in row["pressure_kept"].items():
        if kept is not None:
            if kept >= 0:
                parts.append(f"keeps {kept:.0%} of its gain under pressure {name}")
            else:
                parts.append(
                    f"loses all of its gain under pressure {name} (steered, it ends below the unsteered model)"
                )
    curve = [p for p in row["persistence"] if p["delta"] is not None]
    if len(curve) > 1 and row["default_delta"]:
        last = curve[-1]
        parts.append(f"{100 * last['delta']:+.0f} points after {last['level']} turns")
    if row["worst_condition"] and row["worst_delta"] is not None:
        worst = f"{row['worst_condition']} ({100 * row['worst_delta']:+.0f} points)"
        sign, default = row.get("desired_sign", 1), row["default_delta"]
        if default is not None and sign * row["worst_delta"] >= sign * default:  # every other condition does better
            parts.append(f"no other condition weakens it (the least: {worst})")
        else:
            parts.append(f"worst under {worst}")
    where = f", positions {row['positions']}" if isinstance(row["positions"], str) else ""
    return (
        f"{row['vector']} at {row['alpha']:g}{where} on {row['task']} ({row['default_verdict']} as asked, "
        f"{100 * (row['default_delta'] or 0):+.0f} points): " + "; ".join(parts)
    )
