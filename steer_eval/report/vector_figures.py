"""Each vector's own figure for its card (issue 23): small multiples, one panel per task it ran on (its target
first, then behaviours, then capabilities), of its change against strength with its 95% interval, and the
spread of its same-norm placebo draws at each strength as a grey band: a reader sees at once whether the
vector leaves the placebo distribution, and where. Placebos are a reference drawn on the vector's panels, never
rows of their own among the findings. Past MAX_PANELS tasks the last panel aggregates the rest (one thin line
per task, their median bold), so a vector run on 50 tasks keeps a figure of the same size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from steer_eval.report.figures import VERDICT_COLOURS, _png  # sets matplotlib's Agg backend

MAX_PANELS = 6
PLACEBO_GREY = "#999999"


def _with_origin(alphas: pd.Series, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(strengths, `values` in points) with the unsteered point (0, 0), in order of strength."""
    x = np.array([0.0, *alphas])
    y = np.array([0.0, *(100 * values)])
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def _the_rest(ax, rows: pd.DataFrame, tasks: list[str]) -> None:
    """One panel for the tasks past the others: each task a thin line (behaviour blue, capability orange),
    the median over them bold."""
    curves = {}
    for task in tasks:
        series = rows[rows["task"] == task].sort_values("alpha")
        x, y = _with_origin(series["alpha"], series["delta"])
        kind = series["kind"].iloc[0]
        ax.plot(x, y, color="#0072B2" if kind == "behavior" else "#E69F00", linewidth=0.6, alpha=0.45)
        curves[task] = pd.Series(y, index=x).groupby(level=0).mean()
    median = pd.concat(curves, axis=1).median(axis=1)
    ax.plot(median.index, median.to_numpy(), color="#333333", linewidth=1.6, label="their median")
    ax.legend(fontsize=6, frameon=False, loc="best")
    ax.axhline(0, color="#333333", linewidth=0.7)
    behaviour = int((rows[rows["task"].isin(tasks)].drop_duplicates("task")["kind"] == "behavior").sum())
    ax.set_title(f"{len(tasks)} more tasks ({behaviour} behaviour, {len(tasks) - behaviour} capability)", fontsize=8)


def panel_tasks(rows: pd.DataFrame, target: str | None) -> tuple[list[str], list[str]]:
    """(tasks with a panel each, tasks the last panel aggregates): the target first, then behaviours, then
    capabilities, each in first-seen order; past MAX_PANELS tasks the last panel holds the rest."""
    kinds = {"behavior": 1, "intelligence": 2}
    kind = rows.drop_duplicates("task").set_index("task")["kind"]
    tasks = sorted(kind.index, key=lambda t: 0 if t == target else kinds.get(kind[t], 3))
    if len(tasks) <= MAX_PANELS:
        return tasks, []
    return tasks[: MAX_PANELS - 1], tasks[MAX_PANELS - 1 :]


def vector_panels(rows: pd.DataFrame, target: str | None = None) -> str | None:
    """`rows`: one vector's main-view cells (every task and strength); `target`: the task it was made for,
    drawn first."""
    rows = rows[rows["delta"].notna()]
    if rows.empty or rows["alpha"].nunique() < 1:
        return None
    tasks, rest = panel_tasks(rows, target)
    panels = len(tasks) + bool(rest)
    columns = min(3, panels)
    lines = (panels + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(3.3 * columns, 2.4 * lines), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        series = rows[rows["task"] == task].sort_values("alpha")
        x, change = _with_origin(series["alpha"], series["delta"])

        def line(values: pd.Series, alphas: pd.Series = series["alpha"]) -> np.ndarray:
            return _with_origin(alphas, values)[1]

        low, high = series["placebo_delta_low"], series["placebo_delta_high"]
        if low.notna().any() and np.allclose(low.fillna(0), high.fillna(0)):  # one draw: a line, not a band
            ax.plot(x, line(low.fillna(0)), color=PLACEBO_GREY, linewidth=1.2, linestyle="--", label="placebo draw")
        elif low.notna().any():
            ax.fill_between(x, line(low.fillna(0)), line(high.fillna(0)), color=PLACEBO_GREY, alpha=0.35,
                            linewidth=0, label="placebo draws (range)")  # fmt: skip
        ax.fill_between(x, line(series["ci_low"]), line(series["ci_high"]), color="#0072B2", alpha=0.15,
                        linewidth=0, label="95% interval")  # fmt: skip
        ax.plot(x, change, color="#0072B2", linewidth=1.2, label="change")
        colours = [VERDICT_COLOURS.get(v, "#777777") for v in series["verdict"]]
        ax.scatter(series["alpha"], 100 * series["delta"], c=colours, s=18, zorder=3, edgecolors="#333333",
                   linewidths=0.4)  # fmt: skip
        ax.axhline(0, color="#333333", linewidth=0.7)
        ax.set_title(task + (" (its target)" if task == target else ""), fontsize=8)
    if rest:
        _the_rest(axes.flat[len(tasks)], rows, rest)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
        ax.set_xlabel("strength", fontsize=7)
        ax.set_ylabel("change, points", fontsize=7)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=3, fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)
