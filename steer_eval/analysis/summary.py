"""A few plain sentences about an analysis: each vector's answer (by_vector.py), then what helped, what hurt,
what was an artifact, and how many cells could not tell, each with its interval and corrected q-value."""

from __future__ import annotations

import math

import pandas as pd

from steer_eval.analysis.api import Analysis
from steer_eval.analysis.by_vector import vector_sentences
from steer_eval.analysis.rivals import rival_sentences
from steer_eval.analysis.saturation import is_saturated
from steer_eval.analysis.views import main as main_view


def _cell_words(row) -> str:
    layer = "" if pd.isna(row["layer"]) else f" (layer {int(row['layer'])})"
    at = "" if row["alpha"] == 0 else f" at strength {row['alpha']:g}"  # a rival arm alone has no strength
    if pd.isna(row["delta"]):  # nothing paired to compare (e.g. no text got a score)
        return f"{row['vector']}{layer}{at} on {row['task']}: {row['verdict_reason']}"
    interval = f"[{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}]"
    capped = "; at the bound of the measure, so possibly capped" if is_saturated(row.get("saturated")) else ""
    return (
        f"{row['vector']}{layer}{at} on {row['task']}: {row['baseline']:.3f} -> "
        f"{row['steered']:.3f} ({100 * row['delta']:+.1f} points {interval}, q = {row['q_value']:.2g}{capped})"
    )


def plain_words(analysis: Analysis, top: int = 3) -> str:
    effects = analysis.effects
    mine = effects[(~effects["is_control"]) & main_view(effects)]
    warnings = [f"warning: {words}" for words in analysis.warnings]  # what the results leave out, said first
    if mine.empty:
        return "\n".join([*warnings, "no steered cells to analyse"])
    counts = mine["verdict"].value_counts()
    lines = [
        *warnings,
        f"{len(mine)} steered cells: "
        + ", ".join(f"{count} {verdict}" for verdict, count in counts.items())
        + f" ({analysis.settings.correction} correction, level {analysis.settings.alpha:g})",
    ]
    lines += ["vector by vector:", *(f"  {sentence}" for sentence in vector_sentences(effects))]
    rivals = rival_sentences(effects)
    if rivals:  # the question users ask first: does the vector beat just asking the model?
        heading = "against asking the model (the first prompt arm, else the first few-shot arm, on the same prompts):"
        lines += [heading, *(f"  {s}" for s in rivals)]
    off = mine["on_target"].astype("object") == False if "on_target" in mine else False  # noqa: E712
    for verdict, title in (("helps", "helps"), ("hurts", "hurts"), ("artifact", "option-order artifact"), (None,
                           "off-target (a behaviour of another family than the vector's own)")):  # fmt: skip
        if verdict is None:
            chosen = mine[off & mine["verdict"].isin(["helps", "hurts"])]
        else:
            chosen = mine[(mine["verdict"] == verdict) & ~(off & mine["verdict"].isin(["helps", "hurts"]))]
        if chosen.empty:
            continue
        chosen = chosen.reindex(chosen["delta"].abs().sort_values(ascending=False).index).head(top)
        lines.append(f"{title}:")
        lines += [f"  {_cell_words(row)}" for _, row in chosen.iterrows()]
    lines += _selected_words(mine)
    capability = mine[mine["kind"] == "intelligence"]
    if not capability.empty:
        safe = int((capability["verdict"] == "non-inferior").sum())
        lines.append(
            f"capabilities: {safe} of {len(capability)} intelligence cells are non-inferior at a "
            f"{100 * analysis.settings.margin:g}-point margin; {int((capability['verdict'] == 'hurts').sum())} hurt"
        )
    if analysis.train_overlap:  # effects on items a vector was trained on are not held-out effects
        lines.append("seen in training:")
        lines += [f"  {line}" for line in analysis.train_overlap]
    undecided = int(mine["verdict"].isin(["inconclusive", "no detectable effect"]).sum())
    if undecided:
        mde = mine.loc[mine["verdict"] == "no detectable effect", "mde"]
        typical = (
            f"; typical minimum detectable effect {100 * mde.median():.1f} points"
            if len(mde) and not math.isnan(mde.median())
            else ""
        )
        lines.append(f"{undecided} cells show no effect the data can detect or cannot tell{typical}")
    saturated = mine[mine["verdict"].isin(["inconclusive", "no detectable effect", "non-inferior"])]
    saturated = saturated[saturated["saturated"].map(is_saturated)]
    if len(saturated):
        lines.append(
            f"saturated: {len(saturated)} inconclusive, no-effect or non-inferior cells sit at the bound of the "
            "measure, or nearer to it than the minimum detectable effect, in the direction that matters (improvement; "
            "for capabilities, worsening), so their verdict cannot tell the vector from the ceiling or floor:"
        )
        lines += [
            f"  {row['vector']} x{row['alpha']:g} on {row['task']}, {row['verdict']}: "
            + str(row["verdict_reason"]).split("saturated: ")[-1]
            for _, row in saturated.head(top).iterrows()
        ]
    lines += [f"note: {note}" for note in analysis.notes]
    return "\n".join(lines)


SELECTED_LINES = 8


def _selected_words(mine: pd.DataFrame) -> list[str]:
    """The cells at each vector's validation-selected strength and layer: the setting its builder would
    recommend, so the one a reader looks for first."""
    if "selected" not in mine:
        return []
    picked = mine[mine["selected"].fillna(False).astype(bool)]
    if picked.empty:
        return []
    lines = ["at the validation-selected strength:"]
    lines += [f"  {_cell_words(row)}: {row['verdict']}" for _, row in picked.head(SELECTED_LINES).iterrows()]
    if len(picked) > SELECTED_LINES:
        lines.append(f"  ... and {len(picked) - SELECTED_LINES} more (effects.csv, column selected)")
    return lines
