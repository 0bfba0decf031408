"""Running what an expectations file needs and judging each expectation with the analysis' numbers.

One model load for everything: the expectations are grouped by (vector, task, layer, positions), each group
is run (only its strengths, with option rotations where `no_artifact` asks) into its own run folder under
`--output`, so re-running the gate reuses every finished cell, and the baseline run's identical cells are
copied rather than recomputed. A task that names a group, family or kind is judged on the analysis' pooled
row for it. The q-values of `improves` are Holm-corrected across the gate's own expectations.

Rules (docs/check.md):
- improves: the change in the task's wanted direction is at least `min_delta` and its corrected q <= `q`.
- not_worse: the lower end of the 95% interval of the change (wanted direction) is above -`margin`
  (a one-sided non-inferiority test at 2.5%).
- no_artifact: the analysis' verdict is not `artifact` (the effect survives balanced option rotations).
- regression (with a baseline): the change may not fall below the baseline's by more than `max_drop`,
  significantly (one-sided z-test on the two deltas' standard errors taken from their intervals; unpaired,
  so conservative).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from steer_eval.analysis.views import main as main_view
from steer_eval.check.spec import CheckSpec, Expectation, SpecError
from steer_eval.errors import SteerEvalError
from steer_eval.run.config import RunConfig
from steer_eval.vocab import PositionMode, parse_enum

DEFAULT_ROTATIONS = 4


@dataclass
class Outcome:
    expectation: Expectation
    check: str  # improves / not_worse / no_artifact / regression
    passed: bool
    measured: str
    interval: str
    detail: str


def _groups(spec: CheckSpec) -> dict[tuple, list[Expectation]]:
    groups: dict[tuple, list[Expectation]] = defaultdict(list)
    for expectation in spec.expect:
        groups[(expectation.vector, expectation.task, expectation.layer, expectation.positions)].append(expectation)
    return groups


def _config(spec: CheckSpec, key: tuple, members: list[Expectation], output: Path) -> RunConfig:
    vector, task, layer, positions = key
    d = spec.defaults
    rotations = int(d.get("option_orders", DEFAULT_ROTATIONS)) if any(e.no_artifact for e in members) else 1
    if any(e.no_artifact for e in members) and rotations < 2:
        raise SpecError(f"{spec.path}: no_artifact needs option_orders >= 2 in defaults (got {rotations})")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{vector}__{task}__L{layer}__{positions}")
    return RunConfig(
        model=spec.model,
        vectors=[spec.vectors[vector]],
        tasks=[task],
        alphas=sorted({e.alpha for e in members}),
        layers=None if layer is None else [layer],
        positions=None if positions is None else [parse_enum(PositionMode, positions, "position mode")],
        fewshot=[int(d.get("fewshot", 0))],
        option_orders=rotations,
        limit=d.get("limit"),
        seed=int(d.get("seed", 0)),
        revision=spec.revision,
        device=str(d.get("device", "auto")),
        dtype=str(d.get("dtype", "auto")),
        batch_size=str(d.get("batch_size", "auto")),
        model_args=dict(spec.model_args),
        data_dir=d.get("data_dir"),
        include_path=d.get("include_path"),
        output=output / safe,
        command=f"steer-eval check {spec.path}",
    )


def _cells(effects: pd.DataFrame, expectation: Expectation, label: str) -> pd.DataFrame:
    """The run's effect rows for the expectation's vector and strength at the original option order."""
    return effects[
        (effects["vector"] == label)
        & (effects["alpha"] == expectation.alpha)
        & main_view(effects)
        & (~effects["is_control"].astype(bool))
    ]


def _row(analysis, expectation: Expectation, label: str) -> pd.Series:
    """What an expectation is judged on: its task's effect row, or for a group, family or kind the pooled
    row (the change in wanted answers over all its items), with its members' artifact verdicts."""
    cells = _cells(analysis.effects, expectation, label)
    if cells.empty:
        raise SpecError(f"no result for {expectation.name}; the run did not produce that cell")
    if not expectation.pooled:
        if cells["task"].nunique() > 1:
            raise SpecError(
                f"{expectation.name}: {expectation.task} ran as {cells['task'].nunique()} tasks; name one task, or "
                "a group, family or kind of steer-eval's registry (judged pooled)"
            )
        return cells.iloc[0]
    groups = analysis.groups
    match = (
        groups[
            (groups["group"] == expectation.task)
            & (groups["vector"] == label)
            & (groups["alpha"] == expectation.alpha)
            & (groups["option_order"] == 0)
            & (groups["condition"].fillna("") == "")
        ]
        if len(groups)
        else groups
    )
    if match.empty:
        raise SpecError(f"no pooled result for {expectation.name}: fewer than two of its tasks gave per-item answers")
    row = match.iloc[0].copy()
    row["task"] = expectation.task
    artifacts = cells[cells["verdict"] == "artifact"]
    rotated = cells[pd.to_numeric(cells["orders"], errors="coerce") > 1]
    row["orders"] = len(rotated)  # member tasks with an option-order control
    row["letter_share"] = float("nan")
    row["verdict"] = "artifact" if len(artifacts) else "pooled"
    row["verdict_reason"] = "; ".join(f"{r['task']}: {r['verdict_reason']}" for _, r in artifacts.iterrows())
    return row


def run_checks(spec: CheckSpec, output: Path, baseline: Path | None = None, progress: bool = True) -> list[Outcome]:
    from steer_eval.run.execute import load_lm
    from steer_eval.run.main import run
    from steer_eval.run.prepare import prepare

    groups = _groups(spec)
    configs = {key: _config(spec, key, members, output) for key, members in groups.items()}
    reuse = [path for path in (baseline or spec.baseline,) if path is not None]
    for config in configs.values():  # the baseline run's cells that are the same cells are not recomputed
        config.reuse = reuse
    for key, config in configs.items():  # every vector, layer, task and data file checked before any compute
        try:
            prepare(config, progress=False)
        except SpecError:
            raise
        except SteerEvalError as exc:  # name the expectations the bad layer, file or task comes from
            raise SpecError(f"{spec.path}: {_named(groups[key])}: {exc}") from None
    lm = None
    rows: list[tuple[Expectation, pd.Series]] = []
    for key, members in groups.items():
        config = configs[key]
        if lm is None:
            lm = load_lm(prepare(config, progress=False))
        result = run(config, progress=progress, lm=lm)
        for expectation in members:
            rows.append((expectation, _row(result.analysis, expectation, config.vectors[0].name)))
    return judge(spec, rows, _baseline_effects(baseline or spec.baseline))


def _named(members: list[Expectation]) -> str:
    """The expectations of one group, as the spec's reader finds them."""
    shown = ", ".join(repr(e.name) for e in members[:2]) + (", ..." if len(members) > 2 else "")
    first = members[0]
    setting = [f"{k} {v}" for k, v in (("layer", first.layer), ("positions", first.positions)) if v is not None]
    return f"expectation {shown}{' (' + ', '.join(setting) + ')' if setting else ''}"


def _baseline_effects(path: Path | None) -> pd.DataFrame | None:
    """The baseline's effect rows and its pooled rows (their `group` as the `task`), as one table."""
    if path is None:
        return None
    files = [path] if path.is_file() else sorted(path.rglob("results.json"))
    if not files:
        raise SpecError(f"baseline {path} holds no results.json (give a run folder of steer-eval or the file)")
    frames = []
    for file in files:
        results = json.loads(file.read_text())
        frames.append(pd.DataFrame(results.get("effects", [])))
        pooled = pd.DataFrame(results.get("groups", []))
        if len(pooled):
            frames.append(pooled.rename(columns={"group": "task"}).assign(is_control=False, pooled=True))
    return pd.concat(frames, ignore_index=True) if frames else None


def _fmt_delta(row: pd.Series, sign: int) -> tuple[str, str]:
    low, high = sorted((sign * row["ci_low"], sign * row["ci_high"]))
    return f"{100 * sign * row['delta']:+.1f} points", f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def judge(spec: CheckSpec, rows: list[tuple[Expectation, pd.Series]], baseline: pd.DataFrame | None) -> list[Outcome]:
    outcomes: list[Outcome] = []
    improves = [(e, r) for e, r in rows if e.improves is not None]
    q_values = {}
    if improves:
        p_values = [1.0 if math.isnan(r["p_value"]) else float(r["p_value"]) for _, r in improves]
        for (expectation, _), q in zip(improves, multipletests(p_values, method="holm")[1], strict=True):
            q_values[id(expectation)] = float(q)
    for expectation, row in rows:
        sign = int(row["desired_sign"])
        measured, interval = _fmt_delta(row, sign)
        if expectation.improves is not None:
            q = q_values[id(expectation)]
            wanted = sign * row["delta"]
            need = expectation.improves
            passed = wanted >= need["min_delta"] and q <= need["q"]
            outcomes.append(
                Outcome(
                    expectation,
                    "improves",
                    bool(passed),
                    measured,
                    interval,
                    f"needs >= {100 * need['min_delta']:+.1f} points at q <= {need['q']:g}; q = {q:.2g}",
                )
            )
        if expectation.not_worse is not None:
            margin = expectation.not_worse["margin"]
            low = min(sign * row["ci_low"], sign * row["ci_high"])
            outcomes.append(
                Outcome(
                    expectation,
                    "not_worse",
                    bool(low > -margin),
                    measured,
                    interval,
                    f"the interval's lower end must be above {-100 * margin:+.1f} points",
                )
            )
        if expectation.no_artifact:
            outcomes.append(
                Outcome(
                    expectation, "no_artifact", row["verdict"] != "artifact", measured, interval, _artifact_detail(row)
                )
            )
        if baseline is not None and spec.regression is not None:
            outcomes.append(_regression(expectation, row, baseline, spec.regression, sign, measured, interval))
    return _unmatched_baseline(outcomes)


NO_BASELINE_CELL = "no matching cell in the baseline run"


def _unmatched_baseline(outcomes: list[Outcome]) -> list[Outcome]:
    """An expectation the baseline has no cell for is new: nothing to compare, so it passes, saying so. If
    no expectation matches, the baseline is the wrong one (another model, limit or task), which fails."""
    regressions = [o for o in outcomes if o.check == "regression"]
    if not regressions or all(o.detail == NO_BASELINE_CELL for o in regressions):
        return outcomes
    for outcome in regressions:
        if outcome.detail == NO_BASELINE_CELL:
            outcome.passed = True
            outcome.detail = "not compared: the baseline run has no cell for this setting (a new expectation)"
    return outcomes


def _artifact_detail(row: pd.Series) -> str:
    if row["verdict"] == "artifact":
        return str(row["verdict_reason"])
    orders = pd.to_numeric(row.get("orders"), errors="coerce")
    if pd.isna(orders) or orders < 1 or (row["verdict"] != "pooled" and orders < 2):
        return "no option-order rotations ran: option order does not exist for the model on this task, nothing to check"
    if row["verdict"] == "pooled":
        return f"no member task is a letter-prior artifact ({int(orders)} with rotations)"
    share = row.get("letter_share")
    return f"verdict {row['verdict']}" + (f"; letter share {share:.0%}" if share == share and share is not None else "")


def _regression(expectation, row, baseline, rule, sign, measured, interval) -> Outcome:
    match = baseline[(baseline["alpha"].astype(float) == float(row["alpha"])) & main_view(baseline)]
    if "is_control" in match:
        match = match[~match["is_control"].astype(bool)]
    pooled = match["pooled"].fillna(False).astype(bool) if "pooled" in match else pd.Series(False, index=match.index)
    match = match[pooled == bool(expectation.pooled)]
    for key in ("vector", "task", "layer", "positions", "fewshot"):  # the same setting, not just the same name
        if key in match and key in row:
            match = match[[_same_value(value, row[key]) for value in match[key]]]
    if len(match) > 1:
        detail = f"the baseline has {len(match)} cells for this setting; pass a run of one setting"
        return Outcome(expectation, "regression", False, measured, interval, detail)
    if match.empty:
        return Outcome(expectation, "regression", False, measured, interval, NO_BASELINE_CELL)
    before = match.iloc[0]
    if any(pd.isna(pd.to_numeric(before.get(c), errors="coerce")) for c in ("delta", "ci_low", "ci_high")):
        return Outcome(expectation, "regression", False, measured, interval, "the baseline cell has no accuracy change")
    drop = sign * (before["delta"] - row["delta"])  # how much of the wanted effect was lost
    se = math.hypot(_se(row), _se(before))
    p = 0.0 if se == 0 else float(scipy_stats.norm.sf((drop - rule["max_drop"]) / se))
    failed = drop > rule["max_drop"] and p < rule["q"]
    allowed = f"allowed {100 * rule['max_drop']:.1f}"
    detail = f"baseline {100 * sign * before['delta']:+.1f} points; drop {100 * drop:+.1f} ({allowed}), p = {p:.2g}"
    return Outcome(expectation, "regression", not failed, measured, interval, detail)


def _same_value(a: Any, b: Any) -> bool:
    """Equality across a live table and one read back from JSON: missing == missing (NaN, None), 2 == 2.0."""
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _se(row) -> float:
    return float(row["ci_high"] - row["ci_low"]) / (2 * 1.96)


def summary_counts(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "total": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "failed": sum(not o.passed for o in outcomes),
    }
