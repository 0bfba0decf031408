"""`analyze(run_dir)`: every table of the analysis as DataFrames, and `write()` for `effects.csv` and
`results.json` in the run folder."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from steer_eval.analysis.controls import option_order_rows, placebo_rows
from steer_eval.analysis.dose import breakdown_strengths, dose_rows
from steer_eval.analysis.effects import effect_row
from steer_eval.analysis.examples import flip_rows
from steer_eval.analysis.groups import pooled_group_rows, subgroup_rows
from steer_eval.analysis.heterogeneity import heterogeneity_rows
from steer_eval.analysis.interactions import interaction_rows
from steer_eval.analysis.layers import layer_profiles
from steer_eval.analysis.load import baselines, incomplete, load_run_counted, load_texts
from steer_eval.analysis.overlap import train_overlap
from steer_eval.analysis.pairs import pair_rows, pair_summary
from steer_eval.analysis.ranking import ranking_rows
from steer_eval.analysis.resampled import resample_columns
from steer_eval.analysis.rivals import rival_rows
from steer_eval.analysis.robustness import robustness_rows
from steer_eval.analysis.sample_size import sample_size_rows
from steer_eval.analysis.saturation import saturation
from steer_eval.analysis.stats import CORRECTIONS
from steer_eval.analysis.targets import mark_on_target
from steer_eval.analysis.texts import free_text_rows
from steer_eval.analysis.transfer import in_distribution, transfer_rows
from steer_eval.analysis.verdicts import verdict
from steer_eval.analysis.views import main
from steer_eval.atomic import atomic_path
from steer_eval.errors import SteerEvalError

EFFECT_COLUMNS = [
    "task", "kind", "family", "vector", "alpha", "layer", "site", "positions", "fewshot", "option_order",
    "template", "pressure", "turns", "in_distribution", "condition", "n",
    "train_overlap", "baseline", "steered", "delta", "ci_low", "ci_high", "p_value", "q_value", "verdict",
    "verdict_reason", "saturated", "selected", "q_holm", "q_bh", "mde", "noninferiority_p", "noninferiority_q",
    "scorer", "judge_missing", "unscored_baseline", "unscored_steered", "unscored_p", "fluency_nll_baseline",
    "fluency_nll_delta", "fluency_nll_ci_low", "fluency_nll_ci_high", "relevance_delta", "judge_fluency_delta",
    "judge_overall_delta", "distinct_baseline", "distinct_delta", "length_baseline", "length_delta",
    "propensity_baseline", "propensity_delta", "propensity_ci_low", "propensity_ci_high", "propensity_p",
    "arm", "rival", "rival_steered", "vs_rival_delta", "vs_rival_ci_low", "vs_rival_ci_high", "vs_rival_p",
    "placebo_steered", "vs_placebo_delta", "vs_placebo_ci_low", "vs_placebo_ci_high", "vs_placebo_p", "placebo_draws",
    "placebo_delta_low", "placebo_delta_high", "resamples", "resample_delta_low", "resample_delta_high",
    "verdict_stability", "cosine_resample_mean", "orders", "on_target",
    "pooled_delta", "pooled_ci_low", "pooled_ci_high", "letter_share", "steerability_mean", "anti_steerable",
    "monotonicity_rho", "bias_ambiguous_baseline", "bias_ambiguous_delta", "bias_disambiguated_baseline",
    "bias_disambiguated_delta", "target_is_desired", "desired_sign", "built_for", "is_control", "control_of", "cell",
    "baseline_cell",
]  # fmt: skip


@dataclass(frozen=True)
class Settings:
    alpha: float = 0.05  # test level
    correction: str = "holm"  # or "bh" (Benjamini-Hochberg)
    margin: float = 0.01  # non-inferiority margin on accuracy (1 point)
    inconclusive_mde: float = 0.10
    bootstrap: int = 2000
    seed: int = 0
    level: float = 0.95

    def check(self) -> None:
        if self.correction not in CORRECTIONS:
            raise SteerEvalError(f"unknown correction {self.correction!r}; choose {', '.join(CORRECTIONS)}")
        if not 0 < self.alpha < 1 or not 0 < self.level < 1 or self.margin < 0:
            raise SteerEvalError("the test level must be in (0, 1) and the margin non-negative")


@dataclass
class Analysis:
    settings: Settings
    manifest: dict[str, Any]
    effects: pd.DataFrame
    dose: pd.DataFrame
    subgroups: pd.DataFrame
    groups: pd.DataFrame
    breakdown: pd.DataFrame
    flips: pd.DataFrame = field(default_factory=pd.DataFrame)
    free_text: pd.DataFrame = field(default_factory=pd.DataFrame)  # a few prompts' texts per generation task
    interactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)  # factorial pairs: one row per strength pair
    pair_summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # per pair and task: verdict and words
    heterogeneity: pd.DataFrame = field(default_factory=pd.DataFrame)  # effects across condition levels
    transfer: pd.DataFrame = field(default_factory=pd.DataFrame)  # training task x evaluation task
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)  # where each vector holds, per setting
    layers: pd.DataFrame = field(default_factory=pd.DataFrame)  # validation change per layer and strength tried
    sample_size: pd.DataFrame = field(default_factory=pd.DataFrame)  # cosine to the full-data vector per subset size
    ranking: pd.DataFrame = field(default_factory=pd.DataFrame)  # per behaviour task, tiers of entries (ranking.py)
    item_slopes: dict = field(default_factory=dict)  # dose series -> per-item steerability (for figures)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the results leave out (missing cells): said first
    train_overlap: list[str] = field(default_factory=list)  # "V saw n of N test items of T in training", per pair

    def write(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir)
        with atomic_path(run_dir / "effects.csv") as tmp:
            self.effects.to_csv(tmp, index=False)
        results = {
            "settings": asdict(self.settings),
            "model": self.manifest.get("model", {}).get("name"),
            "verdict_counts": self.effects[~self.effects["is_control"]]["verdict"].value_counts().to_dict(),
            "effects": _records(self.effects),
            "dose_response": _records(self.dose),
            "subgroups": _records(self.subgroups),
            "groups": _records(self.groups),
            "breakdown": _records(self.breakdown),
            "interactions": _records(self.interactions),
            "pairs": _records(self.pairs),
            "pair_summary": _records(self.pair_summary),
            "heterogeneity": _records(self.heterogeneity),
            "transfer": _records(self.transfer),
            "robustness": _records(self.robustness),
            "layer_profile": _records(self.layers),
            "sample_size": _records(self.sample_size),
            "ranking": _records(self.ranking),
            "notes": self.notes,
            "warnings": self.warnings,
        }
        with atomic_path(run_dir / "results.json") as tmp:
            Path(tmp).write_text(json.dumps(results, indent=1, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records")) if len(frame) else []


def _correct(rows: list[dict], family, settings: Settings, column: str = "p_value") -> None:
    """Holm and BH adjusted p-values of `column` over the rows of one family; the chosen one as the q."""
    members = [r for r in rows if family(r) and not math.isnan(r.get(column, math.nan))]
    if not members:
        return
    pvalues = np.array([r[column] for r in members])
    holm = multipletests(pvalues, alpha=settings.alpha, method="holm")[1]
    bh = multipletests(pvalues, alpha=settings.alpha, method="fdr_bh")[1]
    for row, q_holm, q_bh in zip(members, holm, bh, strict=True):
        if column == "p_value":
            row["q_holm"], row["q_bh"] = float(q_holm), float(q_bh)
            row["q_value"] = row["q_holm"] if settings.correction == "holm" else row["q_bh"]
        else:
            row[column.removesuffix("_p") + "_q"] = float(q_holm if settings.correction == "holm" else q_bh)


def analyze(
    run_dir: str | Path, settings: Settings | None = None, loaded: tuple[dict, list, int] | None = None
) -> Analysis:
    """The analysis of a run folder; `loaded`: what `load_run_counted(run_dir)` gave, when the caller has read it."""
    settings = settings or Settings()
    settings.check()
    manifest, cells, missing = loaded if loaded is not None else load_run_counted(run_dir)
    resampled = [c for c in cells if c.resample_of]  # analysed apart: never in the main tables
    paired = [c for c in cells if c.pair]  # factorial pairs: analysed apart too (pairs.py)
    cells = [c for c in cells if not c.resample_of and not c.pair]
    rng = np.random.default_rng(settings.seed)
    base = baselines(cells)
    site = _site(manifest)
    chosen = selected_cells(manifest)
    overlap = train_overlap(manifest, cells, base)
    trained_on = in_distribution(manifest, cells)
    rows = []
    for cell in cells:
        if cell.vector is None or cell.group not in base:
            continue
        row = effect_row(base[cell.group], cell, rng, settings)
        row["site"] = site.get(cell.vector, "")
        row["selected"] = chosen.get(cell.vector) == (cell.alpha, cell.layer)
        row["train_overlap"] = overlap.by_cell.get(cell.key)
        row["arm"] = cell.arm
        row.update(template=cell.template, pressure=cell.pressure, turns=cell.turns, condition=cell.condition)
        row["in_distribution"] = trained_on.get(cell.vector, {}).get(cell.task)
        row["built_for"] = (manifest.get("vectors", {}).get(cell.vector) or {}).get("built_for")
        rows.append(row)
    families = {name: c.family for c in cells for name in (c.task, c.registry) if name}
    mark_on_target(rows, manifest, families)
    placebo = placebo_rows(cells, rng, settings, base)
    rivals = rival_rows(cells, rng, settings)
    orders = option_order_rows(cells, base, settings)
    item_slopes: dict = {}
    dose = dose_rows(cells, base, settings.level, item_slopes)
    dose_by_series = {
        (d["task"], d["vector"], d["layer"], d["positions"], d["fewshot"], d["option_order"], d["condition"]): d
        for d in dose
    }
    for row in rows:
        row.update(placebo.get(row["cell"], {}))
        row.update(rivals.get(row["cell"], {}))
        row.update(orders.get(row["cell"], {}))
        series = dose_by_series.get(
            (row["task"], row["vector"], row["layer"], row["positions"], row["fewshot"], row["option_order"],
             row["condition"])
        )  # fmt: skip
        if series:
            row.update({k: series[k] for k in ("steerability_mean", "anti_steerable", "monotonicity_rho")})
    # Correction families: the cells a user looks at (vectors at the original option order, default condition),
    # the rotated-order cells (which serve the artifact check) and the cells under other conditions (where it
    # holds) each corrected on their own, and the placebo controls of each apart from the vectors (five placebo
    # draws must not multiply a vector's q under a template by six)
    for family in (main, lambda r: r["option_order"] > 0, lambda r: r["option_order"] == 0 and r["condition"] != ""):
        _correct(rows, lambda r, f=family: not r["is_control"] and f(r), settings)
        _correct(rows, lambda r, f=family: r["is_control"] and f(r), settings)
    # "does not hurt" is a claim about every capability cell a user looks at, so it is corrected too
    _correct(rows, lambda r: not r["is_control"] and main(r), settings, column="noninferiority_p")
    _correct(rows, lambda r: r["is_control"] or not main(r), settings, column="noninferiority_p")
    for row in rows:
        row.setdefault("q_value", math.nan)
        row["verdict"], row["verdict_reason"] = verdict(row, settings)
        # saturation qualifies the verdict (in its reason), it never changes it
        row["saturated"], words = saturation(row)
        if words:
            row["verdict_reason"] += f"; {words}"
    ranking = ranking_rows(rows, cells, settings.alpha, settings.correction)
    resample_columns(rows, cells, resampled, base, rng, settings)
    cosines = resample_cosines(manifest)
    for row in rows:
        if row.get("resamples"):
            row["cosine_resample_mean"] = cosines.get(row["vector"])
    effects = pd.DataFrame(rows)
    for column in EFFECT_COLUMNS:
        if column not in effects:
            effects[column] = np.nan
    effects = effects[EFFECT_COLUMNS].astype({"train_overlap": "Int64"})  # a count, or empty when unknown
    if effects.empty:  # a run with no steered cell: typed columns, so every reader can filter on them
        effects = effects.astype({"is_control": bool, "verdict": object, "task": object, "vector": object})
    notes = [*overlap.lines, *overlap.notes]
    warnings = incomplete(len(manifest["grid"]["cells"]), missing, cells, base)
    if any(c.option_order > 0 for c in cells):
        notes.append("option-order rotations present: artifact checks applied to original-order cells")
    interactions, interaction_notes = interaction_rows(cells, base, settings.level)
    pairs, pair_notes = pair_rows(paired, cells, base, settings)
    texts = load_texts(run_dir, cells)
    notes += interaction_notes + pair_notes
    return Analysis(
        settings=settings,
        manifest=manifest,
        effects=effects,
        dose=pd.DataFrame(dose),
        subgroups=pd.DataFrame(subgroup_rows(cells, base, rng, settings)),
        groups=pd.DataFrame(pooled_group_rows(cells, base, rng, settings)),
        breakdown=pd.DataFrame(breakdown_strengths(effects)) if len(effects) else pd.DataFrame(),
        flips=pd.DataFrame(flip_rows(cells, base, texts)),
        free_text=pd.DataFrame(free_text_rows(cells, base, texts)),
        interactions=pd.DataFrame(interactions),
        pairs=pd.DataFrame(pairs),
        pair_summary=pd.DataFrame(pair_summary(pairs, manifest.get("pairs") or [])),
        heterogeneity=pd.DataFrame(heterogeneity_rows(cells, base)),
        transfer=pd.DataFrame(transfer_rows(effects, manifest)) if len(effects) else pd.DataFrame(),
        robustness=pd.DataFrame(robustness_rows(effects)),
        layers=pd.DataFrame(layer_profiles(manifest, settings.level)),
        sample_size=pd.DataFrame(sample_size_rows(manifest)),
        ranking=pd.DataFrame(ranking),
        item_slopes=item_slopes,
        notes=notes,
        warnings=warnings,
        train_overlap=overlap.lines,
    )


def selected_cells(manifest: dict) -> dict[str, tuple[float, int | None]]:
    """Vector label -> the (strength, layer) its validation sweep chose, as the run recorded it in the
    manifest (a random control: its vector's, the strength it ran at too). Runs written before the manifest
    recorded selections, and vectors that recorded none, have no selected cell."""
    out = {}
    for label, info in (manifest.get("vectors") or {}).items():
        chosen = info.get("selected") if isinstance(info, dict) else None
        if isinstance(chosen, dict) and isinstance(chosen.get("alpha"), (int, float)):
            layer = chosen.get("layer")
            out[label] = (float(chosen["alpha"]), None if layer is None else int(layer))
    return out


def resample_cosines(manifest: dict) -> dict[str, float]:
    """Vector label -> the mean cosine of its stored resamples to it (`extra.resamples`, vectors/resample.py)."""
    from steer_eval.vectors.files import read_vector_file

    out = {}
    for label, info in (manifest.get("vectors") or {}).items():
        if not isinstance(info, dict) or info.get("resample_of") or info.get("control_of") or "path" not in info:
            continue
        try:
            record = read_vector_file(info["path"]).meta.extra.get("resamples")
        except (SteerEvalError, OSError):
            continue
        if isinstance(record, dict) and record.get("cosine_resample_mean") is not None:
            out[label] = float(record["cosine_resample_mean"])
    return out


def _site(manifest: dict) -> dict[str, str]:
    """Vector label -> the site(s) it acts on, from the vector files named in the manifest."""
    from steer_eval.vectors.files import read_vector_file

    out = {}
    for label, info in manifest.get("vectors", {}).items():
        try:
            vector = read_vector_file(info["path"])
            out[label] = ",".join(sorted({k.site.value for k in vector.keys}))
        except (SteerEvalError, OSError, KeyError):
            out[label] = ""
    return out


def effects_frame(run_dir: str | Path, settings: Settings | None = None) -> pd.DataFrame:
    """The `effects.csv` table of a run as a pandas DataFrame."""
    return analyze(run_dir, settings).effects
