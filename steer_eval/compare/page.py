"""The comparison page: runs, the cross-model words, the effect per vector x model for each task as a heat map
(verdicts as letters), the leaderboard per task family, and every run against the reference run. Rendered
with jinja2 (autoescaped) into one self-contained HTML file, figures embedded."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from jinja2 import Environment, FileSystemLoader, select_autoescape

from steer_eval.report.build import TEMPLATES
from steer_eval.report.figures import _png

MARKS = {"helps": "*", "hurts": "!", "artifact": "A"}
MAX_ROWS = 200


def effect_map(effects: pd.DataFrame) -> str | None:
    """Tasks as panels; in each, vector x strength down and model (run) across: the change in points."""
    if effects.empty:
        return None
    tasks = list(dict.fromkeys(effects["task"]))[:12]
    rows_per_task = effects[["task", "vector", "alpha"]].drop_duplicates().groupby("task").size().max()
    height = 1.8 + 0.32 * rows_per_task
    columns = min(2, len(tasks))
    lines = (len(tasks) + columns - 1) // columns
    label = min(40, int(effects["vector"].astype(str).str.len().max())) + 4  # row labels: "VECTOR xA"
    column = min(24, int(effects["model"].astype(str).str.len().max()))
    width = 2.0 + 0.07 * label + max(1.2, 0.08 * column) * effects["run"].nunique()
    fig, axes = plt.subplots(lines, columns, figsize=(width * columns, height * lines), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows = effects[effects["task"] == task].assign(
            row=lambda f: f["vector"].astype(str).str.slice(0, 36) + " x" + f["alpha"].map("{:g}".format),
            column=lambda f: f["model"].astype(str).str.slice(-24) + "\n" + f["run"].astype(str).str.slice(0, 20),
            points=lambda f: 100 * f["delta"],
            mark=lambda f: f["points"].map("{:+.0f}".format) + f["verdict"].map(MARKS).fillna(""),
        )
        table = rows.pivot_table(index="row", columns="column", values="points", aggfunc="first")
        marks = rows.pivot_table(index="row", columns="column", values="mark", aggfunc="first").reindex_like(table)
        limit = float(np.nanmax(np.abs(table.to_numpy()))) or 1.0
        sns.heatmap(table, annot=marks.fillna(""), fmt="", cmap="RdBu", vmin=-limit, vmax=limit, ax=ax,
                    cbar_kws={"label": "points"})  # fmt: skip
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def _fmt(value, digits: int = 1, scale: float = 100.0) -> str:
    return "" if value is None or pd.isna(value) else f"{scale * value:+.{digits}f}"


def render(comparison, generated: str) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    effects = comparison.effects
    versus = comparison.versus
    template = env.get_template("comparison.html.j2")
    return template.render(
        runs=comparison.runs,
        settings=comparison.settings,
        generated=generated,
        summary=comparison.summary,
        notes=comparison.notes,
        figure=effect_map(effects),
        leaderboard=[
            {**r, "alpha": f"{r['alpha']:g}", "gain": _fmt(r["mean_gain"])}
            for r in (comparison.leaderboard.to_dict("records") if len(comparison.leaderboard) else [])
        ][:MAX_ROWS],
        versus=[
            {
                **r,
                "alpha": f"{r['alpha']:g}",
                "reference_delta": _fmt(r["reference_delta"]),
                "delta": _fmt(r["delta"]),
                "difference": f"{_fmt(r['difference'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                "q": f"{r['q_value']:.2g}",
            }
            for r in (versus.sort_values("q_value").to_dict("records") if len(versus) else [])
        ][:MAX_ROWS],
        effects=[
            {
                **r,
                "alpha": f"{r['alpha']:g}",
                "change": f"{_fmt(r['delta'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
            }
            for r in effects.to_dict("records")
        ][:MAX_ROWS],
    )
