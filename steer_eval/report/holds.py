"""The report's "Where it holds" section (issue 18): per task and condition factor, small multiples of each
vector's effect (with its interval) across the factor's levels; the transfer matrix (training task x
evaluation task) as a heat map; the heterogeneity tests; and the plain words of analysis/robustness.py."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from steer_eval.analysis.robustness import holds_words
from steer_eval.report.figures import MAX_PANELS, _finish, _panels, _png, _series_name

FACTOR_DEFAULT = {"template": 0, "pressure": "none", "turns": 0}
MAX_LINES = 40  # sentences and test rows shown; results.json has them all


def _levels(effects: pd.DataFrame, factor: str) -> pd.DataFrame:
    """The rows at the default condition or varying only `factor`, with that factor's level as a column."""
    rows = effects[(effects["option_order"] == 0) & ~effects["is_control"].astype(bool) & effects["delta"].notna()]
    rows = rows[
        ~rows["vector"].astype(str).str.contains(r"\+prompt:", regex=True)
    ]  # a vector with an arm: default only
    others = [f for f in FACTOR_DEFAULT if f != factor]
    keep = pd.Series(True, index=rows.index)
    for other in others:
        keep &= rows[other].isna() | rows[other].isin([0, ""])
    rows = rows[keep].copy()
    rows["level"] = rows[factor].where(rows[factor].notna() & (rows[factor] != 0), FACTOR_DEFAULT[factor])
    return rows


def condition_figure(effects: pd.DataFrame) -> str | None:
    """One panel per task and factor the run varied: effect (points, interval) against the factor's level."""
    panels = []
    for factor in FACTOR_DEFAULT:
        if factor not in effects:
            continue
        rows = _levels(effects, factor)
        for task, subset in rows.groupby("task", sort=False):
            if subset["level"].astype(str).nunique() > 1:
                panels.append((task, factor, subset))
    panels = panels[:MAX_PANELS]
    if not panels:
        return None
    names = sorted({_name(row) for _, _, subset in panels for _, row in subset.iterrows()})
    colours = dict(zip(names, sns.color_palette("tab20", len(names)), strict=True))
    fig, axes = _panels(len(panels), 3.0)
    for ax, (task, factor, subset) in zip(axes.flat, panels, strict=False):
        order = list(dict.fromkeys(sorted(subset["level"].astype(str), key=lambda v: (v != str(FACTOR_DEFAULT[factor]),
                                                                                    v.zfill(4)))))  # fmt: skip
        for name, series in subset.groupby(subset.apply(_name, axis=1), sort=False):
            series = series.assign(x=series["level"].astype(str).map(order.index)).sort_values("x")
            y = 100 * series["delta"].to_numpy()
            low, high = 100 * series["ci_low"].to_numpy(), 100 * series["ci_high"].to_numpy()
            ax.errorbar(series["x"], y, yerr=[y - low, high - y], marker="o", markersize=3, capsize=2,
                        color=colours[name], label=name)  # fmt: skip
        ax.set_xticks(range(len(order)), order, fontsize=7)
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.set_title(f"{task}: {factor}", fontsize=9)
        ax.set_ylabel("change, points")
    return _finish(fig, axes, len(panels))  # one legend of every panel's series


def _name(row) -> str:
    """A series' label, strength first (long vector names are cut at the end)."""
    strength = f"x{row['alpha']:g} " if row["alpha"] else ""  # a rival arm alone has no strength
    return f"{strength}{_series_name(row['vector'], row['layer'], row['positions'])}"[:48]


MAX_HEAT_COLUMNS = 25  # evaluation tasks per strip of the transfer heat map (past that: more strips, not smaller)


def transfer_heatmap(transfer: pd.DataFrame) -> str | None:
    """Training task x evaluation task: the change (points) at each vector's selected (or strongest) strength.
    Many evaluation tasks are split into strips of MAX_HEAT_COLUMNS, one under another, so labels and numbers
    keep their size."""
    if transfer.empty or transfer["delta"].isna().all():
        return None
    table = transfer.assign(points=100 * transfer["delta"].astype(float)).pivot_table(
        index=["vector", "trained_on"], columns="task", values="points", aggfunc="first"
    )
    table.index = [f"{vector} (trained on {trained})"[:60] for vector, trained in table.index]
    strips = [table.iloc[:, i : i + MAX_HEAT_COLUMNS] for i in range(0, table.shape[1], MAX_HEAT_COLUMNS)]
    width = min(table.shape[1], MAX_HEAT_COLUMNS)
    # room for the task names under each strip (drawn turned) and the vector names beside it: ~0.08 inch a character
    below, beside = (0.08 * max(len(str(label)) for label in labels) for labels in (table.columns, table.index))
    height = len(strips) * (1.4 + below + 0.45 * table.shape[0])
    fig, axes = plt.subplots(len(strips), 1, squeeze=False, figsize=(1.6 + beside + 0.8 * width, height))
    limit = float(np.nanmax(np.abs(table.to_numpy()))) or 1.0
    for ax, strip in zip(axes[:, 0], strips, strict=True):
        sns.heatmap(strip, annot=True, fmt="+.0f", cmap="RdBu", vmin=-limit, vmax=limit, ax=ax,
                    cbar_kws={"label": "points"}, annot_kws={"fontsize": 8})  # fmt: skip
        ax.set_xlabel("evaluated on")
        ax.set_ylabel("")
    fig.tight_layout()
    return _png(fig)


def section(analysis) -> dict:
    """What the template needs: words, figures and the heterogeneity table (empty when nothing was varied)."""
    effects = analysis.effects
    rows = analysis.robustness.to_dict("records") if len(analysis.robustness) else []
    tests = analysis.heterogeneity
    if len(tests):  # placebo draws' rows stay in results.json: the table is about what a user steers with
        tests = tests[~tests["is_control"].astype(bool)].sort_values("q_value")
    return {
        "words": [holds_words(row) for row in rows[:MAX_LINES]],
        "conditions": condition_figure(effects) if rows else None,
        "transfer": transfer_heatmap(analysis.transfer) if len(analysis.transfer) else None,
        "tests": [
            {
                "task": r["task"],
                "vector": r["vector"],
                "alpha": f"{r['alpha']:g}",
                "positions": "" if pd.isna(r["positions"]) else r["positions"],  # a rival arm alone has none
                "items": r["n"],
                "factor": r["factor"],
                "effects": ", ".join(f"{lv} {100 * e:+.0f}" for lv, e in zip(r["levels"], r["effects"], strict=True)),
                "worst": r["worst_level"],
                "p": f"{r['p_value']:.2g}",
                "q": f"{r['q_value']:.2g}",
            }
            for r in (tests.head(MAX_LINES).to_dict("records") if len(tests) else [])
        ],
    }
