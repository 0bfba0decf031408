"""Loading several run folders and writing their comparison: `comparison.csv` (every run's main effects with
its model and the vector's method), `comparison.json` (all tables and the words) and `comparison.html` (a
self-contained page: jinja2, autoescaped; the effect per vector x model for each task as a heat map)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from steer_eval.analysis.api import Settings, analyze
from steer_eval.analysis.load import load_run_counted
from steer_eval.atomic import atomic_path
from steer_eval.compare import tables
from steer_eval.errors import SteerEvalError


@dataclass
class Comparison:
    runs: list[dict[str, Any]]  # label, path, model, revision, cells
    effects: pd.DataFrame
    versus: pd.DataFrame
    leaderboard: pd.DataFrame
    summary: list[str]
    settings: Settings
    notes: list[str] = field(default_factory=list)


def _labels(paths: list[Path]) -> list[str]:
    names = [p.resolve().name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]


def compare_runs(paths: list[str | Path], settings: Settings | None = None) -> Comparison:
    settings = settings or Settings()
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise SteerEvalError("compare needs at least two run folders (steer-eval compare RUN RUN [RUN ...])")
    if len({p.resolve() for p in paths}) < len(paths):
        raise SteerEvalError("compare was given the same run folder twice; name each run once")
    runs, frames, cells = [], [], {}
    for label, path in zip(_labels(paths), paths, strict=True):
        loaded = load_run_counted(path)  # read once: analysed here, and its cells paired across runs below
        analysis = analyze(path, settings, loaded)
        about = analysis.manifest.get("model") or {}
        model = about.get("name") or "?"
        methods = {
            name: (info or {}).get("method") or "" for name, info in analysis.manifest.get("vectors", {}).items()
        }
        frame = tables.effect_rows(label, model, analysis.effects, methods, analysis.manifest.get("decoding"))
        cells[label] = {c.key: c for c in loaded[1]}
        runs.append({"label": label, "path": str(path), "model": model, "revision": about.get("revision"),
                     "cells": len(frame)})  # fmt: skip
        frames.append(frame)
    _check_overlap(runs, frames)
    effects = pd.concat(frames, ignore_index=True)
    versus = tables.versus_rows(effects, cells, runs[0]["label"], settings.level)
    tables.correct(versus, settings.correction, settings.alpha)
    notes = []
    text = effects[effects["scorer"].notna()]
    for task, rows in text.groupby("task"):
        measured = sorted(set(rows["scorer"].astype(str) + ", " + rows["decoding"].astype(str)))
        if len(measured) > 1:  # another scorer or decoding is another measurement: those cells are not compared
            notes.append(f"{task} is measured differently across runs ({'; '.join(measured)}): only cells measured "
                         "alike are set against each other")  # fmt: skip
    if len({r["model"] for r in runs}) < len(runs):
        notes.append("some runs share a model: they differ in vectors, data or settings, not in the model")
    return Comparison(
        runs, effects, pd.DataFrame(versus), pd.DataFrame(tables.leaderboard(effects)), tables.summary(effects),
        settings, notes,
    )  # fmt: skip


def _check_overlap(runs: list[dict], frames: list[pd.DataFrame]) -> None:
    tasks = [set(frame["task"]) for frame in frames]
    for run, own in zip(runs, tasks, strict=True):
        if not own:
            raise SteerEvalError(f"{run['path']} has no steered cells to compare (run or resume it first)")
    for index, (run, own) in enumerate(zip(runs, tasks, strict=True)):
        others = set().union(*(t for i, t in enumerate(tasks) if i != index))
        if not own & others:
            raise SteerEvalError(
                f"{run['label']} shares no task with the other runs ({', '.join(sorted(own))} against "
                f"{', '.join(sorted(others))}), so nothing of it compares; compare runs of the same tasks"
            )


def write_comparison(comparison: Comparison, output: str | Path) -> Path:
    from steer_eval.compare.page import render

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    with atomic_path(output / "comparison.csv") as tmp:
        comparison.effects.drop(columns=["cell", "baseline_cell"]).to_csv(tmp, index=False)
    payload = {
        "runs": comparison.runs,
        "settings": comparison.settings.__dict__,
        "effects": _records(comparison.effects),
        "versus": _records(comparison.versus),
        "leaderboard": _records(comparison.leaderboard),
        "summary": comparison.summary,
        "notes": comparison.notes,
    }
    with atomic_path(output / "comparison.json") as tmp:
        Path(tmp).write_text(json.dumps(payload, indent=1, default=str) + "\n")
    for run in comparison.runs:  # each run's own report, linked from the page
        run["report"] = os.path.relpath(Path(run["path"]) / "report.html", output)
    page = output / "comparison.html"
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    with atomic_path(page) as tmp:
        Path(tmp).write_text(render(comparison, generated))
    return page


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records")) if len(frame) else []
