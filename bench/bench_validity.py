"""How often the verdicts are right: simulated runs with planted effects of known size, written through the
real run store, analysed by `steer_eval.analysis.analyze`, each cell's verdict and interval compared with
its truth. Targets: family-wise error <= 5% under Holm, false discovery rate <= 5% under BH, 95% intervals
covering the true effect in >= 93% of cells.

    python bench/bench_validity.py [--quick] [--runs N] [--seed S] [--json FILE]

The generative model (per task; items are the unit, as in the analysis)
- item i has a latent target margin u_i ~ N(mu, SD_ITEM) (its difficulty: item-level heterogeneity, so the
  pairing matters), an item x option-order part w_ik ~ N(0, SD_ORDER), and, in 2-option tasks, the letter of
  its target at order k, a_ik = +1 (A) or -1 (B);
- a cell's margin of item i at order k (the propensity: log-likelihood of the target minus the best other
  option) is  m = u_i + w_ik + (prior + gamma) a_ik + beta + tau z_i + e,  e ~ N(0, SD_CELL) fresh per cell
  (SD_CELL per task: small where answers rarely change)
  and z_i ~ N(0, 1) per (item, vector); the answer is the target when m > 0 (logliks are written to match).
  The baseline has beta = gamma = tau = 0 (`prior` is the model's own letter prior); a true null is the same
  with a fresh e (the same per-item probabilities Phi((u_i + w_ik + prior a_ik) / SD_CELL) as the baseline);
  a genuine effect has beta != 0 and tau = HETEROGENEITY |beta| (items differ in how far they move); a
  letter-prior vector has gamma > 0 only (it raises answer A), planted where the targets sit on A for most
  items at the original order, so its effect there is real while over the balanced rotations it is zero.
- The true effect of a cell is the population paired difference of the target rate (the expected
  steered - baseline change over the item population the task's items are a sample of):
  sum_a P(a) [Phi((mu + (prior + gamma) a + beta) / S') - Phi((mu + prior a) / S)], S^2 = SD_ITEM^2 +
  SD_ORDER^2 + SD_CELL^2, S'^2 = S^2 + tau^2, exact (closed form). beta and gamma are solved so that this is
  the planted size exactly (3, 5, 10, 20 points in the wanted direction). The item bootstrap resamples items,
  so the population effect is what its interval is for (`coverage`); the mean over the drawn items of the
  per-item expected change (given u, w, a, z) is reported as `coverage_given_items` (an easier target).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize
from scipy.stats import norm

from steer_eval.analysis import Settings, analyze
from steer_eval.run.grid import Cell, TaskRef, VectorRef
from steer_eval.run.store import RunStore

SD_ITEM, SD_ORDER, SD_CELL = 1.5, 0.5, 0.5
HETEROGENEITY = 0.5  # tau = HETEROGENEITY * |beta|: per-item spread of a genuine effect
MODEL = "simulated"
ALPHA = 0.05


@dataclass(frozen=True)
class TaskDesign:
    name: str
    kind: str  # "behavior" or "intelligence"
    desired: bool  # target_is_desired: False -> "helps" means fewer target answers
    options: int
    items: int
    base_rate: float  # baseline target rate (pooled over the option orders)
    orders: int = 1  # option orders run (balanced rotations when = options)
    target_on_a: float | None = None  # 2-option tasks: share of items whose target is A at the original order
    letter_prior: float = 0.0  # the model's own preference for A (on the margin's scale)
    placebo: bool = False  # a same-norm random control beside every vector cell
    letter_sizes: tuple[float, ...] = ()  # letter-prior vectors: their effect at the original order
    cell_sd: float = SD_CELL  # small: answers rarely change (few discordant pairs)


@dataclass(frozen=True)
class Design:
    tasks: tuple[TaskDesign, ...]
    sizes: tuple[float, ...] = (0.03, 0.05, 0.10, 0.20)  # planted helps and hurts, wanted direction
    nulls: int = 3  # true-null vectors per task
    null_every: int = 3  # every this-many-th run is a complete null (every vector planted with no effect)


DESIGN = Design(
    tasks=(
        TaskDesign("want", "behavior", True, 2, 300, 0.35, placebo=True),
        TaskDesign("unwanted", "behavior", False, 2, 300, 0.55),
        TaskDesign("capability", "intelligence", True, 4, 500, 0.60),
        TaskDesign("capability_small", "intelligence", True, 4, 100, 0.45),
        TaskDesign("capability_stable", "intelligence", True, 4, 300, 0.70, cell_sd=0.1),
        TaskDesign("ab", "behavior", True, 2, 300, 0.50, orders=2, target_on_a=0.75, letter_prior=0.2,
                   letter_sizes=(0.05, 0.10, 0.20)),
    )
)  # fmt: skip


# ---- the closed-form truth ----------------------------------------------------------------------------


def _letter_mix(task: TaskDesign, order: int) -> list[tuple[float, int]]:
    """(probability, a) over the target's letter at an option order: a = +1 target on A, -1 on B."""
    if task.options != 2 or task.target_on_a is None:
        return [(1.0, 0)]
    on_a = task.target_on_a if order % 2 == 0 else 1 - task.target_on_a
    return [(on_a, 1), (1 - on_a, -1)]


def _spread(task: TaskDesign, tau: float = 0.0) -> float:
    return math.sqrt(SD_ITEM**2 + SD_ORDER**2 + task.cell_sd**2 + tau**2)


def rate(task: TaskDesign, mu: float, order: int, beta: float = 0.0, gamma: float = 0.0) -> float:
    """Population target rate at an option order."""
    s = _spread(task, HETEROGENEITY * abs(beta))
    return sum(p * norm.cdf((mu + (task.letter_prior + gamma) * a + beta) / s) for p, a in _letter_mix(task, order))


def true_delta(task: TaskDesign, mu: float, order: int, beta: float, gamma: float) -> float:
    return rate(task, mu, order, beta, gamma) - rate(task, mu, order)


@functools.cache
def solve_mu(task: TaskDesign) -> float:
    def pooled(mu: float) -> float:
        return float(np.mean([rate(task, mu, k) for k in range(max(task.orders, 2 if task.target_on_a else 1))]))

    return float(optimize.brentq(lambda mu: pooled(mu) - task.base_rate, -10, 10, xtol=1e-12))


@functools.cache
def solve_beta(task: TaskDesign, mu: float, delta: float) -> float:
    """The shift of the margin whose population change of the target rate at the original order is `delta`."""
    if delta == 0:
        return 0.0
    return float(optimize.brentq(lambda b: true_delta(task, mu, 0, b, 0.0) - delta, -20, 20, xtol=1e-12))


@functools.cache
def solve_gamma(task: TaskDesign, mu: float, delta: float) -> float:
    return float(optimize.brentq(lambda g: true_delta(task, mu, 0, 0.0, g) - delta, 0, 20, xtol=1e-12))


# ---- one simulated run --------------------------------------------------------------------------------


@dataclass
class Planted:
    task: TaskDesign
    label: str
    truth: str  # "null", "helps", "hurts", "letter" (a letter-prior artifact)
    size: float  # planted size in the wanted direction (letter: the change of the target rate at order 0)
    beta: float
    gamma: float
    keys: dict[int, str] = field(default_factory=dict)  # option order -> cell key
    true_delta: float = math.nan  # population change of the target rate at the original order
    given_items: float = math.nan  # the mean over the drawn items of the per-item expected change


def _records(task: TaskDesign, margins: np.ndarray, target_pos: np.ndarray, order: int) -> list[dict]:
    """Per-item records as the runner writes them: log-likelihood per option, chosen, target, correct,
    propensity (target minus the best other option = the margin)."""
    out = []
    for i, (m, t) in enumerate(zip(margins.tolist(), target_pos.tolist(), strict=True)):
        logliks = [-3.0 - k for k in range(task.options)]  # the weaker options
        best_other = (t + 1 + i % (task.options - 1)) % task.options
        logliks[best_other] = -1.0
        logliks[t] = -1.0 + m
        chosen = t if m > 0 else best_other
        out.append({
            "doc_id": i,
            "item_id": f"{task.name}-{i}",
            "doc_hash": f"{task.name}-{i}-order{order}",  # a rotated document hashes differently
            "logliks": logliks,
            "chosen": chosen,
            "target": t,
            "correct": float(chosen == t),
            "propensity": logliks[t] - logliks[best_other],
        })  # fmt: skip
    return out


class _Writer:
    def __init__(self, root: Path) -> None:
        self.store = RunStore(root)
        self.store.prepare(MODEL, None)
        self.keys: list[str] = []
        self.vectors: dict[str, dict] = {}

    def add(self, cell: Cell, records: list[dict]) -> str:
        key = cell.key(MODEL, None, None, 0)
        content = {"cell": cell.describe(), "identity": cell.identity(MODEL, None, None, 0), "metrics": {}}
        self.store.write_cell(key, {**content, "seconds": 0.0, "records": records})
        self.keys.append(key)
        if cell.vector is not None:
            self.vectors[cell.vector.label] = {**asdict(cell.vector), "content_sha256": cell.vector.sha256}
        return key

    def finish(self) -> None:
        manifest = {"model": {"name": MODEL, "revision": None}, "vectors": self.vectors, "grid": {"cells": self.keys}}
        self.store.write_manifest(manifest)


def _vector(label: str, control_of: str | None = None) -> VectorRef:
    return VectorRef(label, f"/nonexistent/{label}", f"sha-{label}", control_of)


def plan(design: Design, complete_null: bool) -> list[Planted]:
    planted = []
    for task in design.tasks:
        mu = solve_mu(task)
        sign = 1 if task.desired else -1
        cells = [("null", 0.0)] * design.nulls + [(t, s) for t in ("helps", "hurts") for s in design.sizes]
        for j, (truth, size) in enumerate(cells):
            wanted = size if truth == "helps" else -size
            beta = 0.0 if complete_null else solve_beta(task, mu, sign * wanted)
            planted.append(Planted(task, f"v{j:02d}", "null" if complete_null else truth, size, beta, 0.0))
        for j, size in enumerate(task.letter_sizes):
            gamma = 0.0 if complete_null else solve_gamma(task, mu, size)
            planted.append(Planted(task, f"letter{j}", "null" if complete_null else "letter", size, 0.0, gamma))
    return planted


def simulate(root: Path, design: Design, rng: np.random.Generator, complete_null: bool = False) -> list[Planted]:
    """Write one run store; return its planted cells with their truths."""
    writer = _Writer(root)
    planted = plan(design, complete_null)
    for task in design.tasks:
        mu = solve_mu(task)
        ref = TaskRef(task.name, None, task.kind, "simulated", "multiple_choice", task.desired, None, task.options)
        n = task.items
        u = rng.normal(mu, SD_ITEM, n)
        w = rng.normal(0.0, SD_ORDER, (task.orders, n))
        if task.options == 2 and task.target_on_a is not None:
            pos0 = np.where(rng.random(n) < task.target_on_a, 0, 1)
        else:
            pos0 = rng.integers(0, task.options, n)
        # option order k rotates every item by k * options // orders places (tasks/items.rotation_shift)
        pos = np.array([(pos0 + k * task.options // task.orders) % task.options for k in range(task.orders)])
        a = np.where(pos == 0, 1.0, -1.0) if task.options == 2 else np.zeros_like(pos, dtype=float)
        latent = u + w + task.letter_prior * a  # [orders, items]: the baseline's per-item latent margin
        for k in range(task.orders):
            cell = Cell(ref, 0, k, option_orders=task.orders)
            writer.add(cell, _records(task, latent[k] + rng.normal(0, task.cell_sd, n), pos[k], k))
        for p in (p for p in planted if p.task == task):
            tau = HETEROGENEITY * abs(p.beta)
            shift = p.gamma * a + p.beta + tau * rng.normal(0.0, 1.0, n)
            vector = _vector(p.label)
            for k in range(task.orders):
                cell = Cell(ref, 0, k, vector, 4.0, 10, None, task.orders)
                p.keys[k] = writer.add(
                    cell, _records(task, latent[k] + shift[k] + rng.normal(0, task.cell_sd, n), pos[k], k)
                )
                if task.placebo:
                    control = _vector(f"random({p.label}, 0)", control_of=p.label)
                    cell = Cell(ref, 0, k, control, 4.0, 10, None, task.orders)
                    writer.add(cell, _records(task, latent[k] + rng.normal(0, task.cell_sd, n), pos[k], k))
            p.true_delta = true_delta(task, mu, 0, p.beta, p.gamma)
            per_item = norm.cdf((latent[0] + shift[0]) / task.cell_sd) - norm.cdf(latent[0] / task.cell_sd)
            p.given_items = float(per_item.mean())
    writer.finish()
    return planted


# ---- scoring ------------------------------------------------------------------------------------------


def score_run(root: Path, planted: list[Planted], corrections: tuple[str, ...]) -> list[dict]:
    """One row per planted cell (at the original option order) with its truth and, per correction, the
    analysis' verdict, q-value and interval."""
    rows = {
        p.keys[0]: {
            "task": p.task.name,
            "kind": p.task.kind,
            "rotated": p.task.orders > 1,
            "placebo": p.task.placebo,
            "truth": p.truth,
            "size": p.size,
            "true_delta": p.true_delta,
            "given_items": p.given_items,
        }
        for p in planted
    }
    for correction in corrections:
        # statsmodels' Holm runs gc.collect() on every call (8 per analysis), which scans every object the
        # process holds (torch, lm-eval: 0.3 s a call here); frozen objects are skipped
        gc.freeze()
        effects = analyze(root, Settings(correction=correction)).effects.set_index("cell")
        for key, row in rows.items():
            e = effects.loc[key]
            row[correction] = {"verdict": e["verdict"], "q": float(e["q_value"])}
            row.update(delta=float(e["delta"]), ci_low=float(e["ci_low"]), ci_high=float(e["ci_high"]))
    return list(rows.values())


def _share(hits: int, total: int) -> dict:
    p = hits / total if total else math.nan
    return {"value": p, "se": math.sqrt(p * (1 - p) / total) if total else math.nan, "n": total}


def summarise(runs: list[list[dict]]) -> dict:
    """The figures: per-cell rates over all runs' cells, run-level FWER (Holm) and FDP (BH)."""
    cells = [row for run in runs for row in run]
    nulls = [r for r in cells if r["truth"] == "null"]
    effects = [r for r in cells if r["truth"] in ("helps", "hurts")]
    letters = [r for r in cells if r["truth"] == "letter"]
    out: dict = {}

    def right(r: dict, correction: str) -> bool:
        return r[correction]["verdict"] == r["truth"]

    for correction in ("holm", "bh"):
        if correction not in cells[0]:
            continue
        fig = out.setdefault(correction, {})
        fig["sensitivity"] = _share(sum(right(r, correction) for r in effects), len(effects))
        fig["sensitivity_by_size"] = {
            f"{100 * size:g} points": _share(
                sum(right(r, correction) for r in effects if r["size"] == size),
                sum(r["size"] == size for r in effects),
            )
            for size in sorted({r["size"] for r in effects})
        }
        fig["sensitivity_by_task"] = {
            task: _share(
                sum(right(r, correction) for r in effects if r["task"] == task), sum(r["task"] == task for r in effects)
            )
            for task in dict.fromkeys(r["task"] for r in effects)
        }
        fig["wrong_direction_rate"] = _share(
            sum(r[correction]["verdict"] in ("helps", "hurts") and not right(r, correction) for r in effects),
            len(effects),
        )
        for verdict in ("helps", "hurts"):
            fig[f"false_{verdict}_rate"] = _share(sum(r[correction]["verdict"] == verdict for r in nulls), len(nulls))
        rotated = [r for r in effects if r["rotated"]]
        fig["false_artifact_rate"] = _share(sum(r[correction]["verdict"] == "artifact" for r in rotated), len(rotated))
        fig["artifact_recall"] = _share(sum(r[correction]["verdict"] == "artifact" for r in letters), len(letters))
        fig["artifact_recall_by_size"] = {
            f"{100 * size:g} points": _share(
                sum(r[correction]["verdict"] == "artifact" for r in letters if r["size"] == size),
                sum(r["size"] == size for r in letters),
            )
            for size in sorted({r["size"] for r in letters})
        }
        significant = [r for r in letters if r[correction]["q"] < ALPHA]
        fig["artifact_recall_when_significant"] = _share(
            sum(r[correction]["verdict"] == "artifact" for r in significant), len(significant)
        )
        fig["letter_called_helps_rate"] = _share(
            sum(r[correction]["verdict"] == "helps" for r in letters), len(letters)
        )
        capability_nulls = [r for r in nulls if r["kind"] == "intelligence"]
        capability_hurts = [r for r in effects if r["kind"] == "intelligence" and r["truth"] == "hurts"]
        fig["noninferior_recall"] = _share(
            sum(r[correction]["verdict"] == "non-inferior" for r in capability_nulls), len(capability_nulls)
        )
        fig["false_noninferior_rate"] = _share(
            sum(r[correction]["verdict"] == "non-inferior" for r in capability_hurts), len(capability_hurts)
        )
        # run level: a false rejection is a true null significant (q < alpha) in either direction, or a true
        # effect significant in the wrong direction; letter-prior cells have a real effect at the original order
        by_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for run in runs:
            if not run:
                continue
            false = sum(
                r[correction]["q"] < ALPHA
                and (r["truth"] == "null" or (r["truth"] in ("helps", "hurts") and not _right_sign(r)))
                for r in run
            )
            rejected = sum(r[correction]["q"] < ALPHA for r in run)
            complete = all(r["truth"] == "null" for r in run)
            by_kind["complete_null" if complete else "mixed"].append((false, rejected))
            by_kind["all"].append((false, rejected))
        for kind, counts in by_kind.items():
            any_false = [f > 0 for f, _ in counts]
            fdp = np.array([f / max(rej, 1) for f, rej in counts])
            fig[f"fwer_{kind}"] = _share(sum(any_false), len(any_false))
            fig[f"fdr_{kind}"] = {
                "value": float(fdp.mean()),
                "se": float(fdp.std(ddof=1) / math.sqrt(len(fdp))) if len(fdp) > 1 else math.nan,
                "n": len(fdp),
            }
    with_ci = [r for r in cells if not math.isnan(r["ci_low"])]
    out["coverage"] = _share(sum(r["ci_low"] <= r["true_delta"] <= r["ci_high"] for r in with_ci), len(with_ci))
    out["coverage_given_items"] = _share(
        sum(r["ci_low"] <= r["given_items"] <= r["ci_high"] for r in with_ci), len(with_ci)
    )
    out["coverage_by_truth"] = {
        truth: _share(
            sum(r["ci_low"] <= r["true_delta"] <= r["ci_high"] for r in with_ci if r["truth"] == truth),
            sum(r["truth"] == truth for r in with_ci),
        )
        for truth in dict.fromkeys(r["truth"] for r in with_ci)
    }
    out["coverage_by_task"] = {
        task: _share(
            sum(r["ci_low"] <= r["true_delta"] <= r["ci_high"] for r in with_ci if r["task"] == task),
            sum(r["task"] == task for r in with_ci),
        )
        for task in dict.fromkeys(r["task"] for r in with_ci)
    }
    out["n_runs"] = len(runs)
    out["n_cells"] = len(cells)
    out["n_complete_null_runs"] = sum(bool(run) and all(r["truth"] == "null" for r in run) for run in runs)
    return out


def _right_sign(row: dict) -> bool:
    return (row["delta"] > 0) == (row["true_delta"] > 0)


def figures(summary: dict, primary: str = "holm") -> dict:
    """The headline figures under the keys the JSON promises (per-cell rates under the primary correction;
    the FWER is Holm's, the FDR BH's)."""
    main = summary[primary]
    out = {
        "sensitivity": main["sensitivity"]["value"],
        "false_helps_rate": main["false_helps_rate"]["value"],
        "false_hurts_rate": main["false_hurts_rate"]["value"],
        "coverage": summary["coverage"]["value"],
        "artifact_recall": main["artifact_recall"]["value"],
        "false_artifact_rate": main["false_artifact_rate"]["value"],
        "coverage_given_items": summary["coverage_given_items"]["value"],
        "false_noninferior_rate": main["false_noninferior_rate"]["value"],
        "sensitivity_by_size": {k: v["value"] for k, v in main["sensitivity_by_size"].items()},
    }
    if "holm" in summary:
        out["fwer_holm"] = summary["holm"]["fwer_all"]["value"]
        out["fwer_holm_complete_null"] = summary["holm"].get("fwer_complete_null", {}).get("value", math.nan)
    out["per_cell_rates_under"] = primary
    if "bh" in summary:
        out["false_helps_rate_bh"] = summary["bh"]["false_helps_rate"]["value"]
        out["false_hurts_rate_bh"] = summary["bh"]["false_hurts_rate"]["value"]
        out["fdr_bh"] = summary["bh"]["fdr_all"]["value"]
        out["fdr_bh_complete_null"] = summary["bh"].get("fdr_complete_null", {}).get("value", math.nan)
        out["sensitivity_bh"] = summary["bh"]["sensitivity"]["value"]
    return out


def validity(runs: int, seed: int = 0, design: Design = DESIGN, corrections=("holm", "bh"), progress=None) -> dict:
    """Simulate and analyse `runs` runs; the summary (see `summarise`)."""
    results = []
    shm = Path("/dev/shm")  # a run store per simulated run: memory-backed when the system has it
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        for r in range(runs):
            rng = np.random.default_rng([seed, r])
            complete_null = design.null_every > 0 and r % design.null_every == design.null_every - 1
            root = Path(folder) / f"run{r}"
            planted = simulate(root, design, rng, complete_null)
            results.append(score_run(root, planted, corrections))
            shutil.rmtree(root)
            if progress:
                progress(r + 1, runs)
    return summarise(results)


# ---- the printout -------------------------------------------------------------------------------------


def _status(value: float, se: float, target: float, upper: bool) -> str:
    """'met' when the estimate meets the target; 'within MC error' when it misses by less than 2 standard
    errors (the simulation cannot tell); otherwise 'MISSED'."""
    if math.isnan(value):
        return "n/a"
    miss = value - target if upper else target - value
    if miss <= 0:
        return "met"
    return "within MC error" if miss < 2 * se else "MISSED"


def table(summary: dict) -> tuple[str, list[dict]]:
    holm, bh = summary.get("holm", {}), summary.get("bh", {})
    lines: list[tuple[str, dict | None, str, float | None, bool]] = [
        ("sensitivity (Holm): true effects called in their direction", holm.get("sensitivity"), "", None, False),
        *((f"  {size} (Holm)", fig, "", None, False) for size, fig in holm.get("sensitivity_by_size", {}).items()),
        *((f"  task {t} (Holm)", fig, "", None, False) for t, fig in holm.get("sensitivity_by_task", {}).items()),
        ("sensitivity (BH)", bh.get("sensitivity"), "", None, False),
        ("wrong direction (Holm): effect called the opposite", holm.get("wrong_direction_rate"), "<=", 0.025, True),
        ("false_helps_rate (Holm): true nulls called helps", holm.get("false_helps_rate"), "<=", 0.025, True),
        ("false_hurts_rate (Holm): true nulls called hurts", holm.get("false_hurts_rate"), "<=", 0.025, True),
        ("false_helps_rate (BH)", bh.get("false_helps_rate"), "<=", 0.025, True),
        ("false_hurts_rate (BH)", bh.get("false_hurts_rate"), "<=", 0.025, True),
        ("FWER under Holm, all runs (per run: any null q<.05)", holm.get("fwer_all"), "<=", 0.05, True),
        ("FWER under Holm, complete-null runs", holm.get("fwer_complete_null"), "<=", 0.05, True),
        ("FDR under BH, all runs (mean false discovery proportion)", bh.get("fdr_all"), "<=", 0.05, True),
        ("FDR under BH, complete-null runs", bh.get("fdr_complete_null"), "<=", 0.05, True),
        ("coverage: 95% interval holds the population effect", summary.get("coverage"), ">=", 0.93, False),
        *((f"  true {truth}", fig, ">=", 0.93, False) for truth, fig in summary.get("coverage_by_truth", {}).items()),
        *((f"  task {t}", fig, ">=", 0.93, False) for t, fig in summary.get("coverage_by_task", {}).items()),
        ("coverage of the drawn items' expected effect", summary.get("coverage_given_items"), ">=", 0.93, False),
        ("artifact_recall (Holm): letter priors called artifact", holm.get("artifact_recall"), "", None, False),
        *(
            (f"  {size} at the original order", fig, "", None, False)
            for size, fig in holm.get("artifact_recall_by_size", {}).items()
        ),
        ("  of those significant at the original order", holm.get("artifact_recall_when_significant"), "", None, False),
        ("letter priors called helps (Holm)", holm.get("letter_called_helps_rate"), "", None, False),
        ("false artifact rate (Holm): rotated genuine effects", holm.get("false_artifact_rate"), "", None, False),
        ("non-inferior (Holm): capability nulls called so", holm.get("noninferior_recall"), "", None, False),
        ("false non-inferior (Holm): capability hurts >= 3 pt", holm.get("false_noninferior_rate"), "<=", 0.05, True),
    ]
    text = [f"{'figure':58} {'value':>7} {'MC se':>6} {'n':>6}  target      status"]
    verdicts = []
    for name, fig, op, target, upper in lines:
        if not fig:
            continue
        target_text = f"{op} {100 * target:g}%" if target is not None else "-"
        status = _status(fig["value"], fig["se"], target, upper) if target is not None else "-"
        text.append(
            f"{name:58} {100 * fig['value']:6.1f}% {100 * fig['se']:5.1f}% {fig['n']:6d}  {target_text:11} {status}"
        )
        if target is not None:
            verdicts.append({"figure": name.strip(), "value": fig["value"], "se": fig["se"], "target": f"{op} {target}",
                             "status": status})  # fmt: skip
    return "\n".join(text), verdicts


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or platform.machine()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a few minutes on 2 cores)")
    parser.add_argument("--runs", type=int, help="simulated runs (default 500, --quick 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    runs = args.runs or (60 if args.quick else 500)

    def progress(done: int, total: int) -> None:
        if done % max(1, total // 20) == 0 or done == total:
            elapsed = time.perf_counter() - start
            print(f"  {done}/{total} runs, {elapsed:.0f} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    summary = validity(runs, args.seed, progress=progress)
    seconds = time.perf_counter() - start
    text, verdicts = table(summary)
    cells_per_run = summary["n_cells"] // max(summary["n_runs"], 1)
    print(
        f"{summary['n_runs']} simulated runs ({summary['n_complete_null_runs']} complete nulls), {cells_per_run} "
        f"planted cells each at the original option order ({summary['n_cells']} in all), seed {args.seed}, "
        f"{seconds:.0f} s"
    )
    print(text)
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"machine: {machine()}, {_cores()} cores; {now}")
    print(
        "MC se: binomial standard error over cells (over runs for FWER; of the mean FDP for FDR). Status: met; "
        "within MC error (misses by < 2 se); MISSED."
    )
    if args.json:
        payload = {
            **figures(summary),
            "n_runs": summary["n_runs"],
            "n_cells": summary["n_cells"],
            "targets": verdicts,
            "details": summary,
            "seconds": round(seconds, 1),
            "machine": machine(),
            "cores": _cores(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "settings": {
                "runs": runs,
                "seed": args.seed,
                "design": asdict(DESIGN),
                "sd_item": SD_ITEM,
                "sd_order": SD_ORDER,
                "sd_cell": SD_CELL,
                "heterogeneity": HETEROGENEITY,
                "analysis": asdict(Settings()),
                "command": " ".join(["python", "bench/bench_validity.py", *(argv or sys.argv[1:])]),
            },
        }
        args.json.write_text(json.dumps(payload, indent=1, default=_json_default) + "\n")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()
