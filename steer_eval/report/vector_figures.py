"""Each vector's own figure for its card (issue 23): small multiples, one panel per task it ran on (behaviours
first, at most MAX_PANELS), of its change against strength with its 95% interval, and the spread of its
same-norm placebo draws at each strength as a grey band: a reader sees at once whether the vector leaves the
placebo distribution, and where. Placebos are a reference drawn on the vector's panels, never rows of their
own among the findings."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from steer_eval.report.figures import VERDICT_COLOURS, _png  # sets matplotlib's Agg backend

MAX_PANELS = 6
PLACEBO_GREY = "#999999"


def vector_panels(rows: pd.DataFrame) -> str | None:
    """`rows`: one vector's main-view cells (every task and strength)."""
    rows = rows[rows["delta"].notna()]
    if rows.empty or rows["alpha"].nunique() < 1:
        return None
    kinds = {"behavior": 0, "intelligence": 1}
    tasks = sorted(dict.fromkeys(rows["task"]), key=lambda t: kinds.get(rows[rows["task"] == t]["kind"].iloc[0], 2))
    tasks = tasks[:MAX_PANELS]
    columns = min(3, len(tasks))
    lines = (len(tasks) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(3.3 * columns, 2.4 * lines), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        series = rows[rows["task"] == task].sort_values("alpha")
        x = np.array([0.0, *series["alpha"]])
        order = np.argsort(x, kind="stable")

        def line(values, x=x, order=order):
            return np.array([0.0, *(100 * values)])[order]

        if series["placebo_delta_low"].notna().any():
            ax.fill_between(x[order], line(series["placebo_delta_low"].fillna(0)),
                            line(series["placebo_delta_high"].fillna(0)), color=PLACEBO_GREY, alpha=0.35,
                            linewidth=0, label="placebo draws (range)")  # fmt: skip
        ax.fill_between(x[order], line(series["ci_low"]), line(series["ci_high"]), color="#0072B2", alpha=0.15,
                        linewidth=0, label="95% interval")  # fmt: skip
        ax.plot(x[order], line(series["delta"]), color="#0072B2", linewidth=1.2, label="change")
        colours = [VERDICT_COLOURS.get(v, "#777777") for v in series["verdict"]]
        ax.scatter(series["alpha"], 100 * series["delta"], c=colours, s=18, zorder=3, edgecolors="#333333",
                   linewidths=0.4)  # fmt: skip
        ax.axhline(0, color="#333333", linewidth=0.7)
        ax.set_title(task, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("strength", fontsize=7)
        ax.set_ylabel("change, points", fontsize=7)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=3, fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)
