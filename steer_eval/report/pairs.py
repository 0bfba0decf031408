"""The report's "Pairs of vectors" section (issue 19): per pair and task, the factorial surface (a heat map
of the joint effect over the two members' strengths, beside the interaction: joint minus the sum of the
singles, significant cells marked), the plain words of analysis/pairs.py, and the cosine and unit overlap of
the two vectors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from steer_eval.analysis.pairs import NONE
from steer_eval.report.figures import _png

MAX_SURFACES = 8  # pair x task heat maps drawn; results.json has every cell


def surface(cells: pd.DataFrame) -> str:
    """Two heat maps for one pair on one task: joint effect and interaction (points), first member's strength
    down, second's across; an asterisk marks a cell called interacting (q below the level, beyond the placebo)."""
    first, second = cells["first"].iloc[0], cells["second"].iloc[0]
    joint = cells.pivot_table(index="alpha_first", columns="alpha_second", values="joint_delta") * 100
    interaction = cells.pivot_table(index="alpha_first", columns="alpha_second", values="interaction") * 100
    called = cells.assign(mark=np.where(cells["verdict"] != NONE, "*", "")).pivot_table(
        index="alpha_first", columns="alpha_second", values="mark", aggfunc="first"
    )
    fig, axes = plt.subplots(1, 2, figsize=(4.0 + 1.2 * joint.shape[1], 0.9 + 0.6 * joint.shape[0]))
    panels = ((axes[0], joint, "joint effect", False), (axes[1], interaction, "interaction (joint - sum)", True))
    for ax, table, title, marked in panels:
        limit = float(np.nanmax(np.abs(table.to_numpy()))) or 1.0
        labels = table.map(lambda v: f"{v:+.0f}")
        if marked:
            labels = labels + called.reindex_like(table).fillna("")
        sns.heatmap(table, annot=labels, fmt="", cmap="RdBu", vmin=-limit, vmax=limit, ax=ax,
                    cbar_kws={"label": "points"})  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(f"{second} strength"[:50], fontsize=8)
        ax.set_ylabel(f"{first} strength"[:50], fontsize=8)
    fig.tight_layout()
    return _png(fig)


def section(analysis) -> dict:
    """What the template needs: per pair and task its words, geometry and surface (empty without pairs)."""
    if analysis.pair_summary.empty:
        return {"pairs": []}
    out = []
    for row in analysis.pair_summary.to_dict("records"):
        cells = analysis.pairs[(analysis.pairs["pair"] == row["pair"]) & (analysis.pairs["task"] == row["task"])]
        out.append(
            {
                "pair": row["pair"],
                "task": row["task"],
                "verdict": row["verdict"],
                "words": row["words"],
                "cosine": "" if pd.isna(row["cosine"]) else f"{row['cosine']:+.2f}",
                "overlap": "" if pd.isna(row["unit_overlap"]) else f"{row['unit_overlap']:.2f}",
                "placebo": row["placebo_pair"] or "none (add --controls random)",
                "surface": surface(cells) if len(out) < MAX_SURFACES else None,
            }
        )
    return {"pairs": out}
