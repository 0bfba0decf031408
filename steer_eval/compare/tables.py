"""The comparison's tables, from each run's own analysis (its main view: original option order, default
condition, placebos left out):

- `effects`: one row per run x vector x task x strength (layer and position mode where they vary), with the
  run's model, the vector's method, effect, interval and verdict as that run's analysis judged them.
- `versus`: for a vector x task x strength x position mode measured in two runs, the second run's effect
  against the reference run's (the first given): paired per item where both evaluated the same items (the
  difference of the two paired differences: t interval, paired t-test p), else unpaired (Welch's t on the two
  runs' per-item differences, statsmodels); q over every comparison (Holm or BH).
- `leaderboard`: per model x task family, each vector ranked by its mean gain (toward the desired answer)
  over the family's tasks at its validation-selected strength; a vector without one is ranked at each of
  its strengths, marked as chosen on nothing (a reader must not pick the best of them on test data).
- `summary`: per vector, in words across models ("helps on 2 of 3 models; hurts demo_facts on demo-b"), counted
  over runs where a model has several."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from steer_eval.analysis.load import CellData
from steer_eval.analysis.stats import adjusted, paired_continuous
from steer_eval.analysis.views import main

# what makes two runs' cells the same intervention (the main view already holds one condition and option order)
# and, for free text, what read the behaviour from the text and how the text was decoded: another scorer or
# sampling instead of greedy decoding is another measurement, not a change of effect
KEY = ["vector", "task", "alpha", "layer", "positions", "fewshot", "scorer", "decoding"]


def effect_rows(
    label: str, model: str, effects: pd.DataFrame, methods: dict[str, str], decoding: dict | None = None
) -> pd.DataFrame:
    rows = effects[main(effects) & ~effects["is_control"].astype(bool) & effects["arm"].isna()].copy()
    rows.insert(0, "run", label)
    rows.insert(1, "model", model)
    samples = int((decoding or {}).get("samples") or 1)
    drawn = "greedy" if samples <= 1 else f"{samples} draws at temperature {(decoding or {}).get('temperature')}"
    rows["decoding"] = np.where(rows["scorer"].notna(), drawn, "")  # only text is decoded
    rows["method"] = rows["vector"].map(methods).fillna("")
    rows["gain"] = rows["delta"] * rows["desired_sign"]
    keep = ["run", "model", "vector", "method", "built_for", "task", "family", "kind", "alpha", "layer", "positions",
            "fewshot", "scorer", "decoding", "selected", "n", "baseline", "steered", "delta", "ci_low", "ci_high",
            "q_value", "verdict", "gain", "cell", "baseline_cell"]  # fmt: skip
    return rows[keep].reset_index(drop=True)


def _per_item(cells: dict[str, CellData], row: pd.Series) -> tuple[np.ndarray, CellData] | None:
    steered, base = cells.get(row["cell"]), cells.get(row["baseline_cell"])
    if steered is None or base is None or np.isnan(steered.correct).any() or np.isnan(base.correct).any():
        return None
    return steered.correct - base.correct, base


def versus_rows(effects: pd.DataFrame, cells: dict[str, dict[str, CellData]], reference: str, level: float) -> list:
    """Every other run's effect against the reference run's, per shared intervention."""
    rows = []
    ref = {_key(row): row for _, row in effects[effects["run"] == reference].iterrows()}
    for _, other in effects[effects["run"] != reference].iterrows():
        mine = ref.get(_key(other))
        if mine is None:
            continue
        a, b = _per_item(cells[reference], mine), _per_item(cells[other["run"]], other)
        if a is None or b is None:
            continue
        (diff_ref, base_ref), (diff_other, base_other) = a, b
        same_items = base_ref.item_ids == base_other.item_ids and base_ref.doc_hashes == base_other.doc_hashes
        if same_items:
            effect = paired_continuous(diff_ref, diff_other, level)
            difference, low, high, p = effect.delta, effect.ci_low, effect.ci_high, effect.p_value
        elif diff_ref.std() == 0 and diff_other.std() == 0:  # every item changed alike in each run: no spread
            difference = low = high = float(diff_other.mean() - diff_ref.mean())
            p = 1.0 if difference == 0 else 0.0
        else:
            compared = CompareMeans(DescrStatsW(diff_other), DescrStatsW(diff_ref))
            difference = float(diff_other.mean() - diff_ref.mean())
            low, high = compared.tconfint_diff(alpha=1 - level, usevar="unequal")
            p = float(compared.ttest_ind(usevar="unequal")[1])
        rows.append(
            {
                "vector": other["vector"], "task": other["task"], "alpha": other["alpha"],
                "positions": other["positions"], "layer": other["layer"], "fewshot": other["fewshot"],
                "scorer": other["scorer"], "decoding": other["decoding"],
                "reference": reference, "reference_model": mine["model"],
                "run": other["run"], "model": other["model"], "reference_delta": mine["delta"],
                "delta": other["delta"], "difference": difference, "ci_low": float(low), "ci_high": float(high),
                "p_value": p if not math.isnan(p) else 1.0, "test": "paired" if same_items else "unpaired",
            }
        )  # fmt: skip
    return rows


def _key(row: pd.Series) -> tuple:
    """The intervention a row measures, with a missing layer or position mode as None (NaN never equals)."""
    return tuple(None if pd.isna(row[k]) else row[k] for k in KEY)


def correct(rows: list[dict], correction: str, alpha: float) -> None:
    if rows:
        for row, q in zip(rows, adjusted([r["p_value"] for r in rows], correction, alpha), strict=True):
            row["q_value"] = float(q)


def leaderboard(effects: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    chosen = effects[effects["selected"].astype(bool)]
    has_selection = set(zip(chosen["run"], chosen["vector"], strict=True))
    unselected = effects[[pair not in has_selection for pair in zip(effects["run"], effects["vector"], strict=True)]]
    for source, how in ((chosen, "selected on validation"), (unselected, "not selected (every strength shown)")):
        # per run: two runs of one model (other data, other settings) are two entries, not one over both
        for (run, model, family, vector, alpha), group in source.groupby(["run", "model", "family", "vector", "alpha"]):
            rows.append(
                {"run": run, "model": model, "family": family, "vector": vector, "method": group["method"].iloc[0],
                 "alpha": alpha, "strength": how, "tasks": int(group["task"].nunique()),
                 "mean_gain": float(group["gain"].mean()),
                 "helps": int((group["verdict"] == "helps").sum()), "hurts": int((group["verdict"] == "hurts").sum())}
            )  # fmt: skip
    board = pd.DataFrame(rows)
    if board.empty:
        return []
    board["rank"] = board.groupby(["model", "family"])["mean_gain"].rank(ascending=False, method="min").astype(int)
    return board.sort_values(["family", "model", "rank"]).to_dict("records")


def summary(effects: pd.DataFrame) -> list[str]:
    """Per vector: on how many models it helps a behaviour task, and where it hurts a capability. Where a model
    has several runs (other data, other settings), the count is over runs, which may disagree."""
    lines = []
    models = list(dict.fromkeys(effects["model"]))
    for vector, rows in effects.groupby("vector", sort=False):
        seen = list(dict.fromkeys(rows["model"]))
        per_run = rows["run"].nunique() > len(seen)
        where = ["model", "run"] if per_run else ["model"]
        name = (lambda key: f"{key[0]} ({key[1]})") if per_run else (lambda key: key[0])
        helped = {name(k): sorted(set(r["task"])) for k, r in rows[rows["verdict"] == "helps"].groupby(where)}
        hurt = rows[(rows["verdict"] == "hurts") & (rows["kind"] != "behavior")]
        if per_run:
            units = rows[where].drop_duplicates()
            words = f"{vector}: helps in {len(helped)} of {len(units)} runs of {_models(len(seen))}"
        else:
            words = f"{vector}: helps on {len(helped)} of {_models(len(seen))}"
        if helped:
            words += " (" + "; ".join(f"{m}: {', '.join(t)}" for m, t in helped.items()) + ")"
        if not hurt.empty:
            words += "; hurts " + "; ".join(
                f"{', '.join(sorted(set(r['task'])))} on {name(k)}" for k, r in hurt.groupby(where)
            )
        missing = [m for m in models if m not in seen]
        if missing:
            words += f"; not run on {', '.join(missing)}"
        lines.append(words)
    return lines


def _models(n: int) -> str:
    return f"{n} model{'s' if n > 1 else ''}"
