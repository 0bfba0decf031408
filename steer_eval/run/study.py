"""Several models in one run folder (issue 20): `--model A --model B` (or `--model A,B`) runs the same job on
each model in turn, each into its own complete run folder under `OUTPUT/models/<name>/` (its own baseline,
its own recipe-built vectors, report and effects), then puts them side by side with `steer-eval compare`'s
machinery in `OUTPUT/`: `effects.csv` (every model's effects with a `model` column), `comparison.csv/.json`,
and `report.html` (the comparison page, linking each model's own report). `study.json` says which models ran
into which folder. A model that fails (to load, or on bad input of its own) does not stop the others: their
finished cells stay, and the run ends with one line naming what failed and what finished."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from steer_eval.atomic import atomic_path
from steer_eval.errors import SteerEvalError
from steer_eval.run.config import RunConfig


@dataclass
class StudyResult:
    output: Path
    finished: dict[str, Path]  # model -> its run folder
    failed: dict[str, str] = field(default_factory=dict)  # model -> why
    summary: list[str] = field(default_factory=list)  # the comparison's words across models
    estimates: dict[str, str] = field(default_factory=dict)  # a dry run: model -> its grid estimate


def model_folders(models: list[str]) -> dict[str, str]:
    """A distinct folder name per model: the hub id with '/' as '--', a local folder's name; refused when two
    models are the same (they would share every cell key and the comparison would compare a model with itself)."""
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise SteerEvalError(f"--model {repeated[0]} is given twice; name each model once")
    names: dict[str, str] = {}
    for model in models:
        path = Path(model).expanduser()
        base = path.name if path.exists() else model.replace("/", "--")
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "model"
        while name in names.values():
            name += "-2"
        names[model] = name
    return names


def run_study(config: RunConfig, models: list[str], progress: bool = True, dry_run: bool = False, settings=None):
    from steer_eval.run.main import RunResult, run

    folders = model_folders(models)
    result = StudyResult(config.output, {})
    for model in models:
        sub = dataclasses.replace(config, model=model, output=config.output / "models" / folders[model])
        try:
            outcome = run(sub, progress=progress, dry_run=dry_run, settings=settings)
        except (SteerEvalError, OSError) as exc:
            result.failed[model] = str(exc)
            continue
        if isinstance(outcome, str):
            result.estimates[model] = outcome
        elif isinstance(outcome, RunResult) and (outcome.rows or outcome.summary):
            result.finished[model] = sub.output
    if not dry_run and len(result.finished) >= 2:
        result.summary = _write_study(config.output, result)
    return result


def _write_study(output: Path, result: StudyResult) -> list[str]:
    from steer_eval.compare import compare_runs, write_comparison

    comparison = compare_runs(list(result.finished.values()))
    page = write_comparison(comparison, output)
    shutil.copyfile(page, output / "report.html")
    frames = []
    for model, folder in result.finished.items():
        frame = pd.read_csv(folder / "effects.csv")
        frame.insert(0, "model", model)
        frames.append(frame)
    with atomic_path(output / "effects.csv") as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
    record = {
        "models": {model: str(folder) for model, folder in result.finished.items()},
        "failed": result.failed,
    }
    with atomic_path(output / "study.json") as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1) + "\n")
    return comparison.summary
