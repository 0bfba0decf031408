"""The demo's study across models (issue 20), after its main run: the same two recipes (CAA and iPAS-a for
demo_sentiment, each built and selected on each model's own data) on the demo model and `demo-qwen` (another
family, width and depth), side by side as a study (OUTPUT/models: the comparison page and effects.csv with a
model column); and the demo's own sentiment vectors applied to `demo-qwen-128`, which shares the demo model's
width and planted directions: declared transfer cells whose truth is known (the planted push moves it).
`steer-eval demo` prints the cross-model table this returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

STUDY_MODELS = ("demo", "demo-qwen")
RECIPES = ("caa:demo_sentiment", "ipasa:demo_sentiment")
TRANSFER_MODEL = "demo-qwen-128"
TRANSFERRED = ("sentiment-caa.safetensors", "planted-mood.safetensors")  # the main run's, built on `demo`
TASKS = ("demo_sentiment", "demo_facts")


@dataclass
class DemoStudy:
    effects: pd.DataFrame  # the selected-strength cells: model, vector, task, delta, interval, verdict
    lines: list[str]  # the comparison's words across models
    folder: Path  # the study's folder (its report.html compares the models)


def run_demo_study(output: Path, native: pd.DataFrame, progress: bool = True) -> DemoStudy:
    """Both parts, into OUTPUT/models (the study) and OUTPUT/transfer (the transfer run); `native` (the main
    run's effects on `demo`) gives the transferred vectors' effects where they were built, for reference."""
    from steer_eval.run.config import RunConfig
    from steer_eval.run.main import RunResult, run
    from steer_eval.run.study import run_study

    common = {"tasks": list(TASKS), "alphas": ["selected"], "batch_size": "64", "device": "cpu"}
    config = RunConfig(
        model=STUDY_MODELS[0], vectors=[Path(r) for r in RECIPES], output=output / "models",
        command=f"steer-eval demo --output {output} (the study across models)", **common,
    )  # fmt: skip
    study = run_study(config, list(STUDY_MODELS), progress=progress)
    if study.failed:  # the demo's own models: a failure is a bug, not bad input
        raise RuntimeError(f"the demo's study failed: {study.failed}")
    transfer = run(
        RunConfig(
            model=TRANSFER_MODEL, vectors=[output / "vectors" / name for name in TRANSFERRED],
            output=output / "transfer", command=f"steer-eval demo --output {output} (transfer)", **common,
        ),
        progress=progress,
    )  # fmt: skip
    assert isinstance(transfer, RunResult) and transfer.analysis is not None
    moved = transfer.analysis.effects.assign(model=f"{TRANSFER_MODEL} (from demo)")
    home = native[native["vector"].isin(TRANSFERRED) & native["task"].isin(TASKS) & (native["option_order"] == 0)]
    effects = pd.concat([pd.read_csv(config.output / "effects.csv"), home.assign(model="demo"), moved])
    chosen = effects[effects["selected"].astype(bool) & ~effects["is_control"].astype(bool)]
    return DemoStudy(chosen, study.summary, config.output)


def cross_model_table(effects: pd.DataFrame) -> str:
    """One row per vector and model: its selected strength, and its effect with interval and verdict per task."""
    rows = []
    for (model, vector), cells in effects.groupby(["model", "vector"], sort=False):
        row = {"vector": vector, "model": model, "strength": f"{cells['alpha'].iloc[0]:g}"}
        for task in TASKS:
            cell = cells[cells["task"] == task]
            row[task] = "" if cell.empty else _effect(cell.iloc[0])
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def _effect(cell: pd.Series) -> str:
    points = [100 * float(cell[c]) for c in ("delta", "ci_low", "ci_high")]
    return f"{points[0]:+.0f} [{points[1]:+.0f}, {points[2]:+.0f}] {cell['verdict']}"
