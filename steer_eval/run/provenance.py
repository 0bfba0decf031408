"""The run's manifest: versions, model (name, revision, config hash), vectors (sha256), data files (sha256),
seeds, device, the command line, the grid, start and end times."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from steer_eval.run.store import RUN_FORMAT
from steer_eval.scoring import get_scorer
from steer_eval.tasks.registry import DATA_ENV, get_task

PACKAGES = ("steer-eval", "torch", "transformers", "lm-eval", "datasets", "safetensors", "numpy")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = package_version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _config_hash(model_map) -> str:
    config = getattr(model_map.model, "config", None)
    text = config.to_json_string(use_diff=False) if config is not None else ""
    return hashlib.sha256(text.encode()).hexdigest()


_data_hashes: dict[tuple[str, str], str] = {}


def _data_files(prepared) -> dict[str, str]:
    import os

    folder = prepared.config.data_dir or os.environ.get(DATA_ENV)
    out: dict[str, str] = {}
    for task in prepared.tasks:
        if task.registry is None or folder is None:
            continue
        for name in get_task(task.registry).data_files:
            path = Path(folder) / name
            if path.is_file():
                slot = (str(path), str(path.stat().st_mtime_ns))
                if slot not in _data_hashes:
                    _data_hashes[slot] = hashlib.sha256(path.read_bytes()).hexdigest()
                out[name] = _data_hashes[slot]
    return out


def _training(prepared, ref) -> dict[str, Any]:
    """The vector's method and training record (with its question hashes): the analysis reads only the run
    folder, and counts from this how many evaluated items each vector saw in training. A combination's record
    is its members' together (None when one of them has none)."""
    from steer_eval.vectors.provenance import read_trained_on

    members = [prepared.vectors[sha] for sha in ref.members] or [prepared.vectors[ref.sha256]]
    records = [read_trained_on(v.meta.extra, ref.path) for v in members]
    method = " + ".join(v.meta.method for v in members)
    if any(record is None for record in records):
        return {"method": method, "trained_on": None}
    if len(records) == 1:
        return {"method": method, "trained_on": records[0].to_json()}
    questions = sorted({h for record in records for h in record.questions})
    return {
        "method": method,
        "trained_on": {
            "task": " + ".join(r.task for r in records),
            "split": " + ".join(dict.fromkeys(r.split for r in records)),
            "items": sum(r.items for r in records),
            "scheme": records[0].scheme if len({r.scheme for r in records}) == 1 else "mixed",
            "questions": questions,
        },
    }


def _target(prepared, ref, entry: dict) -> str | None:
    """The behaviour task a vector was made for: its training task, else the task its file names (a planted or
    imported vector); None for combinations and vectors that say nothing. Effects on behaviours of other
    families are off-target (analysis/api.py)."""
    if ref.members:
        return None
    trained = (entry.get("trained_on") or {}).get("task")
    vector = prepared.vectors.get(ref.sha256)
    named = vector.meta.extra.get("task") if vector is not None else None
    return trained or (named if isinstance(named, str) else None)


def manifest(prepared, store, started: str, finished: str | None, counts: dict | None = None) -> dict[str, Any]:
    from steer_eval.run.execute import cell_key

    config = prepared.config
    strengths = {plan.ref.label: plan.alphas for plan in prepared.plans}
    vectors = {}
    for cell in prepared.cells:
        if cell.vector is not None and cell.vector.label not in vectors:
            selected = prepared.selections.get(cell.vector.label)
            vectors[cell.vector.label] = {
                "path": cell.vector.path,
                "sha256": cell.vector.sha256,
                "control_of": cell.vector.control_of,
                "resample_of": cell.vector.resample_of,  # analysed apart: no layer profile, no cosine of its own
                "pair": cell.vector.pair,
                "recipe": cell.vector.recipe,  # built here for this model from the recipe (vectors/recipes.py)
                "built_for": cell.vector.built_for,  # another model's vector (a transfer cell), else None
                "alphas": strengths.get(cell.vector.label),
                # what the analysis marks as the validation-selected cell (a control: its vector's choice)
                "selected": None if selected is None else {"alpha": selected.alpha, "layer": selected.layer},
                **_training(prepared, cell.vector),
            }
            vectors[cell.vector.label]["target_task"] = _target(prepared, cell.vector, vectors[cell.vector.label])
    return {
        "steer_eval_run": RUN_FORMAT,
        "command": config.command or " ".join(sys.argv),
        "started": started,
        "finished": finished,
        "versions": _versions(),
        "model": {
            "name": config.model,
            "path": prepared.model_path,
            "revision": config.revision,
            "config_sha256": _config_hash(prepared.model_map),
            "architecture": prepared.model_map.architecture,
            "n_layers": prepared.model_map.n_layers,
            "hidden_size": prepared.model_map.hidden_size,
            "model_args": config.model_args,
        },
        "device": {
            "requested": config.device,
            "dtype": config.dtype,
            "batch_size": config.batch_size,
            "prefix_reuse": config.prefix_reuse,
        },
        "seed": config.seed,
        "limit": config.limit,
        "vectors": vectors,
        "pairs": prepared.pairs,  # --combine pairs: members, layers, placebo pair, cosine and unit overlap
        "tasks": [task.__dict__ for task in prepared.tasks],
        "data_dir": config.data_dir,
        "data_files_sha256": _data_files(prepared),
        "grid": {
            "alphas": config.strengths,  # as asked: numbers and "selected" (per vector: vectors.*.alphas)
            "layers": config.layers,
            "positions": [p.value for p in config.positions] if config.positions else None,
            "fewshot": config.fewshot,
            "option_orders": config.option_orders,
            "controls": config.controls,
            "cells": [cell_key(prepared, cell) for cell in prepared.cells],
            "shard": None if config.shard is None else str(config.shard),  # --shard I/N: this writer's part
        },
        # how texts were scored (a judge's model, endpoint and rubrics), shown and decoded
        "scorers": {
            name: get_scorer(name).describe() for name in sorted({t.scorer for t in prepared.tasks if t.scorer})
        },
        "prompt_format": config.prompt_format.describe(),
        "decoding": {"samples": config.samples, "temperature": config.temperature if config.samples > 1 else None},
        "counts": counts,
        "reused_from": [str(path) for path in config.reuse],
        "warnings": prepared.user_warnings,
    }


def dumps(data: dict) -> str:
    return json.dumps(data, indent=2, default=str)
