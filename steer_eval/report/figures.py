"""The report's figures, drawn with seaborn/matplotlib from the analysis tables and returned as base64
PNG data URIs (so the HTML needs no other file and makes no request). Figures draw; they compute nothing
the analysis did not."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator, ScalarFormatter

from steer_eval.analysis.views import main as main_view

# Okabe and Ito's colour-blind-safe palette; every verdict is also told by its text and its mark (the page
# never relies on colour alone)
VERDICT_COLOURS = {
    "helps": "#009E73",
    "non-inferior": "#56B4E9",
    "no detectable effect": "#DDDDDD",
    "inconclusive": "#F0E442",
    "artifact": "#CC79A7",
    "hurts": "#D55E00",
}
VERDICT_MARKS = {"helps": "▲", "non-inferior": "■", "no detectable effect": "○", "inconclusive": "?",
                 "artifact": "◆", "hurts": "▼"}  # fmt: skip
MAX_ROWS = 60  # rows of a forest plot
MAX_PANELS = 12  # dose-response and steerability panels
MAX_RIBBONS = 4  # vectors in a dose-response panel past which their intervals are left to their cards' panels


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _panels(count: int, height: float):
    """A grid of up to three panels a row, one per task."""
    columns = min(3, count)
    lines = (count + columns - 1) // columns
    return plt.subplots(lines, columns, figsize=(4.2 * columns, height * lines), squeeze=False)


def _finish(fig, axes, used: int) -> str:
    """Blank the unused panels, one legend under the grid, and the PNG."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    legend: dict[str, object] = {}  # every panel's series (a later panel may have some the first lacks)
    for ax in list(axes.flat)[:used]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="upper center", bbox_to_anchor=(0.5, 0), ncol=2, fontsize=7,
               frameon=False)  # fmt: skip
    fig.tight_layout()
    return _png(fig)


def _series_name(vector, layer, positions) -> str:
    """A line's legend label: the vector, its layer and position mode where the cells say them."""
    name = str(vector) if pd.isna(layer) else f"{vector} L{int(layer)}"
    return name + ("" if pd.isna(positions) else f" {positions}")


def _label(row) -> str:
    layer = "" if pd.isna(row["layer"]) else f" L{int(row['layer'])}"
    return f"{row['vector']}{layer} x{row['alpha']:g}"


def verdict_map(effects: pd.DataFrame) -> str | None:
    if effects.empty:
        return None
    frame = effects.assign(column=effects.apply(_label, axis=1))
    order = list(VERDICT_COLOURS)
    codes = frame.pivot_table(index="task", columns="column", values="verdict", aggfunc="first")
    deltas = frame.pivot_table(index="task", columns="column", values="delta", aggfunc="first")
    # a cell without a change (nothing scored) has a verdict but no number: an empty label, not a missing column
    deltas = deltas.reindex(index=codes.index, columns=codes.columns)
    labels = (100 * deltas).round(1).map(lambda v: "" if pd.isna(v) else format(v, ""))
    numeric = codes.apply(lambda col: col.map(lambda v: order.index(v) if isinstance(v, str) else np.nan))
    width = min(2 + 0.55 * len(codes.columns), 40)
    fig, ax = plt.subplots(figsize=(width, 1 + 0.45 * len(codes.index)))
    sns.heatmap(
        numeric,
        cmap=list(VERDICT_COLOURS.values()),
        vmin=-0.5,
        vmax=len(order) - 0.5,
        cbar=False,
        annot=labels,
        fmt="",
        linewidths=0.5,
        linecolor="white",
        ax=ax,
        annot_kws={"fontsize": 7},
    )
    ax.set_xlabel("vector, layer and strength (cell text: change in points)")
    ax.set_ylabel("")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLOURS.values()]
    ax.legend(handles, order, ncol=len(order), loc="lower left", bbox_to_anchor=(0, 1.01), frameon=False, fontsize=8)
    return _png(fig)


def at_selected(rows: pd.DataFrame) -> pd.DataFrame:
    """Each vector's cells at its validation-selected strength and layer; a vector without a selection keeps
    all of its cells (nothing was chosen for it, and choosing here would choose on test data)."""
    if "selected" not in rows or rows.empty:
        return rows
    chosen = rows["selected"].fillna(False).astype(bool)
    has_choice = rows["vector"].isin(set(rows.loc[chosen, "vector"]))
    return rows[chosen | ~has_choice]


def forest(effects: pd.DataFrame, kind: str) -> str | None:
    """The vectors' effects on `kind` tasks at their selected strengths: a forest of intervals while it has
    at most MAX_ROWS rows; past that, one row per vector with a dot per cell (coloured and shaped by verdict),
    so 10 vectors on 50 tasks stay one legible figure instead of a wall of rows."""
    rows = at_selected(effects[(effects["kind"] == kind) & effects["delta"].notna()])
    if rows.empty:
        return None
    if len(rows) > MAX_ROWS:
        return _strip(rows)
    rows = rows.sort_values("delta", kind="stable")
    rows = rows.assign(label=rows["task"] + "  " + rows.apply(_label, axis=1))
    fig, ax = plt.subplots(figsize=(8, 1 + 0.28 * len(rows)))
    y = np.arange(len(rows))
    colours = [VERDICT_COLOURS.get(v, "#777777") for v in rows["verdict"]]
    ax.errorbar(
        100 * rows["delta"],
        y,
        xerr=[100 * (rows["delta"] - rows["ci_low"]), 100 * (rows["ci_high"] - rows["delta"])],
        fmt="none",
        ecolor="#555555",
        elinewidth=1,
    )
    ax.scatter(100 * rows["delta"], y, c=colours, zorder=3, edgecolors="#333333", linewidths=0.5)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(y, rows["label"], fontsize=7)
    ax.set_xlabel("change in accuracy, points (95% interval)")
    sns.despine(ax=ax)
    return _png(fig)


MAX_STRIP_VECTORS = 40  # rows of the per-vector strip (the cards and the table have every vector)
MARKERS = {"helps": "^", "hurts": "v", "non-inferior": "s", "no detectable effect": "o", "inconclusive": "X",
           "artifact": "D"}  # fmt: skip


def _strip(rows: pd.DataFrame) -> str:
    vectors = list(dict.fromkeys(rows["vector"]))[:MAX_STRIP_VECTORS]
    rows = rows[rows["vector"].isin(vectors)].assign(change=100 * rows["delta"])
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.4 * len(vectors)))
    for verdict, cells in rows.groupby("verdict", sort=False):
        y = cells["vector"].map({v: i for i, v in enumerate(vectors)})
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(cells))  # seeded: the same page each time
        ax.scatter(cells["change"], y + jitter, s=14, marker=MARKERS.get(verdict, "o"), label=verdict,
                   c=VERDICT_COLOURS.get(verdict, "#777777"), edgecolors="#333333", linewidths=0.3)  # fmt: skip
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(vectors)), [str(v)[:40] for v in vectors], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("change, points: one dot per task (at the selected strength; every strength where none was chosen)")
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=6)
    sns.despine(ax=ax)
    return _png(fig)


def dose_curves(effects: pd.DataFrame) -> str | None:
    """Per task (the first MAX_PANELS), each vector's change against strength (with its interval while a panel
    has at most MAX_RIBBONS vectors); the placebo draws of all vectors as one grey band (their range at each
    strength), a reference, not more lines."""
    rows = effects[effects["delta"].notna() & main_view(effects)]
    if rows.empty:
        return None
    tasks = list(dict.fromkeys(rows["task"]))[:MAX_PANELS]
    fig, axes = _panels(len(tasks), 3.2)
    for ax, task in zip(axes.flat, tasks, strict=False):
        subset = rows[rows["task"] == task]
        placebo = subset[subset["is_control"].astype(bool)]
        if len(placebo):
            spread = (100 * placebo.groupby("alpha")["delta"].agg(["min", "max"])).reindex(
                sorted({0.0, *placebo["alpha"]}), fill_value=0.0
            )
            ax.fill_between(spread.index, spread["min"], spread["max"], color="#999999", alpha=0.35, linewidth=0,
                            label="placebo draws (range)")  # fmt: skip
        vectors = subset[~subset["is_control"].astype(bool)].groupby(
            ["vector", "layer", "positions", "fewshot"], dropna=False
        )
        ribbons = len(vectors) <= MAX_RIBBONS
        for (vector, layer, positions, fewshot), series in vectors:
            series = series.sort_values("alpha")
            x = [0.0, *series["alpha"]]
            y = [0.0, *(100 * series["delta"])]
            low = [0.0, *(100 * series["ci_low"])]
            high = [0.0, *(100 * series["ci_high"])]
            order = np.argsort(x)
            x, y, low, high = (np.array(v)[order] for v in (x, y, low, high))
            name = _series_name(vector, layer, positions) + (f" {int(fewshot)}-shot" if fewshot else "")
            line = ax.plot(x, y, marker="o", markersize=3, label=name[:40])[0]
            if ribbons:
                ax.fill_between(x, low, high, color=line.get_color(), alpha=0.12)
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("strength")
        ax.set_ylabel("change, points")
    return _finish(fig, axes, len(tasks))


def steerability_series(item_slopes: dict) -> list:
    """The main view's (key, slopes) series: original option order, default condition (key: task, vector,
    layer, positions, few-shot, option order, condition)."""
    return [(key, values) for key, values in item_slopes.items() if len(values) and key[5] == 0 and not key[6]]


def steerability(item_slopes: dict) -> str | None:
    """Per series (the first MAX_PANELS), the spread of its items' slopes over strength."""
    series = steerability_series(item_slopes)[:MAX_PANELS]
    if not series:
        return None
    frame = pd.concat(
        (pd.DataFrame({"slope": values, "series": f"{key[0]} | {key[1]}"[:60]}) for key, values in series),
        ignore_index=True,
    )
    fig, ax = plt.subplots(figsize=(8, 1 + 0.35 * len(series)))
    sns.boxplot(data=frame, x="slope", y="series", ax=ax, fliersize=1, color="#9ecae1")
    ax.axvline(0, color="#d73027", linewidth=1)
    ax.set_xlabel("per-item steerability (slope of propensity over strength); left of the red line = anti-steerable")
    ax.set_ylabel("")
    return _png(fig)


def option_order(effects: pd.DataFrame) -> str | None:
    rows = effects[effects["pooled_delta"].notna()]
    if rows.empty:
        return None
    rows = rows.head(MAX_ROWS)
    labels = rows["task"] + "  " + rows.apply(_label, axis=1)
    frame = pd.DataFrame(
        {
            "cell": list(labels) * 2,
            "points": list(100 * rows["delta"]) + list(100 * rows["pooled_delta"]),
            "option order": ["original"] * len(rows) + ["pooled over rotations"] * len(rows),
        }
    )
    fig, ax = plt.subplots(figsize=(8, 1 + 0.4 * len(rows)))
    sns.barplot(data=frame, y="cell", x="points", hue="option order", ax=ax, palette=["#4575b4", "#fdae61"])
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_xlabel("change in accuracy, points")
    ax.set_ylabel("")
    return _png(fig)


def tradeoff(effects: pd.DataFrame) -> str | None:
    """Behaviour change against fluency cost over the strengths of each vector (and rival arm) on each
    generation task: the curve a user picks a strength on. Placebos are dashed."""
    rows = effects[effects["delta"].notna() & effects["fluency_nll_delta"].notna() & main_view(effects)]
    if rows.empty:
        return None
    tasks = list(dict.fromkeys(rows["task"]))[:MAX_PANELS]
    keys = ["vector", "layer", "positions"]
    # one colour per series in every panel, so the one legend names the right line everywhere
    names = list(dict.fromkeys(_series_name(*key) for key, _ in rows.groupby(keys, dropna=False, sort=False)))
    colours = dict(zip(names, sns.color_palette("tab10" if len(names) <= 10 else "husl", len(names)), strict=True))
    fig, axes = _panels(len(tasks), 3.4)
    for ax, task in zip(axes.flat, tasks, strict=False):
        subset = rows[rows["task"] == task]
        for (vector, layer, positions), series in subset.groupby(keys, dropna=False):
            series = series.sort_values("alpha")
            name = _series_name(vector, layer, positions)
            style = "--" if bool(series["is_control"].iloc[0]) else "-"
            measured = zip(series["alpha"], series["fluency_nll_delta"], 100 * series["delta"], strict=True)
            points = sorted([(0.0, 0.0, 0.0), *measured])
            x, y = [p[1] for p in points], [p[2] for p in points]  # through the unsteered origin at strength 0
            line = ax.plot(x, y, marker="o", markersize=3, linestyle=style, label=name[:40], color=colours[name])[0]
            for alpha, cost, change in points:
                if alpha == 0:
                    continue
                ax.annotate(f"{alpha:g}", (cost, change), fontsize=6, color=line.get_color(), xytext=(2, 2),
                            textcoords="offset points")  # fmt: skip
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("fluency cost (NLL per token, nats)")
        ax.set_ylabel("behaviour change, points")
    return _finish(fig, axes, len(tasks))


def layer_profile(profile: pd.DataFrame) -> str | None:
    """Per vector, its validation change (points, interval) over the layers its selection tried, one line per
    strength, the chosen layer and strength starred."""
    if profile.empty or profile["layer"].isna().all():
        return None
    vectors = list(dict.fromkeys(profile["vector"]))[:MAX_PANELS]
    fig, axes = _panels(len(vectors), 2.8)
    for ax, vector in zip(axes.flat, vectors, strict=False):
        rows = profile[profile["vector"] == vector].sort_values("layer")
        for alpha, series in rows.groupby("alpha", sort=True):
            y = 100 * series["validation_delta"].to_numpy()
            low, high = 100 * series["ci_low"].to_numpy(), 100 * series["ci_high"].to_numpy()
            ax.errorbar(series["layer"], y, yerr=[y - low, high - y], marker="o", markersize=3, capsize=2,
                        label=f"strength {alpha:g}")  # fmt: skip
        chosen = rows[rows["chosen"]]
        ax.scatter(chosen["layer"], 100 * chosen["validation_delta"], marker="*", s=120, color="#d73027", zorder=3,
                   label="chosen")  # fmt: skip
        ax.axhline(0, color="#333333", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(str(vector)[:45], fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("validation change, points")
    return _finish(fig, axes, len(vectors))


def sample_size(rows: pd.DataFrame) -> str | None:
    """Per vector, the cosine of vectors built from subsets of its training items to the full-data vector,
    over the subset size (the draws' range as a band), the settled threshold dashed."""
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    palette = sns.color_palette("tab10", rows["vector"].nunique())
    for colour, (vector, series) in zip(palette, rows.groupby("vector", sort=False), strict=False):
        series = series.sort_values("items")
        ax.plot(series["items"], series["cosine_mean"], marker="o", markersize=3, color=colour,
                label=f"{str(vector)[:40]} (of {int(series['total'].iloc[0])})")  # fmt: skip
        ax.fill_between(series["items"], series["cosine_low"], series["cosine_high"], color=colour, alpha=0.2)
    ax.axhline(float(rows["threshold"].dropna().iloc[0]) if rows["threshold"].notna().any() else 0.9,
               color="#333333", linewidth=0.8, linestyle="--")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("training items used")
    ax.set_ylabel("cosine to the full-data vector")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)
