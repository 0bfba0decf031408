"""Synthetic run stores for analysis tests and benchmarks: cells with chosen per-item outcomes, written
through the real run store, so the analysis reads exactly what a run would leave."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from steer_eval.run.grid import Cell, TaskRef, VectorRef
from steer_eval.run.store import RunStore


def task_ref(name: str, kind: str = "behavior", target_is_desired: bool | None = True, family: str = "test") -> TaskRef:
    return TaskRef(name, None, kind, family, "multiple_choice", target_is_desired)


def vector_ref(label: str, control_of: str | None = None) -> VectorRef:
    return VectorRef(label, f"/nonexistent/{label}", f"sha-{label}", control_of)


def records(
    correct: np.ndarray,
    propensity: np.ndarray | None = None,
    item_prefix: str = "item",
    questions: list[str] | None = None,
) -> list[dict]:
    propensity = np.where(correct > 0, 1.0, -1.0) if propensity is None else propensity
    out = [
        {
            "doc_id": i,
            "item_id": f"{item_prefix}-{i}",
            "doc_hash": f"h{i}",
            "logliks": [float(p), 0.0],
            "chosen": 0 if c else 1,
            "target": 0,
            "correct": float(c),
            "propensity": float(p),
        }
        for i, (c, p) in enumerate(zip(correct, propensity, strict=True))
    ]
    for record, question in zip(out, questions or (), strict=False):
        record["question"] = question
    return out


class SyntheticRun:
    def __init__(self, root: Path, model: str = "synthetic") -> None:
        self.store = RunStore(root)
        self.store.prepare(model, None)
        self.keys: list[str] = []
        self.vectors: dict[str, dict] = {}
        self.model = model

    def add(
        self, cell: Cell, correct: np.ndarray, propensity: np.ndarray | None = None, questions: list[str] | None = None
    ) -> str:
        key = cell.key(self.model, None, None, 0)
        identity = cell.identity(self.model, None, None, 0)
        content = {"cell": cell.describe(), "identity": identity, "metrics": {}, "seconds": 0.0}
        rows = records(correct, propensity, questions=questions)
        if cell.task.scorer:  # a generation cell: its scorer's score is the measure (None: a text it could not score)
            for row, value in zip(rows, correct, strict=True):
                row.update(score=None if np.isnan(value) else float(value), nll=None, distinct2=None, words=None)
        self.store.write_cell(key, {**content, "records": rows})
        self.keys.append(key)
        if cell.vector is not None:
            self.vectors[cell.vector.label] = {**asdict(cell.vector), "content_sha256": cell.vector.sha256}
        return key

    def finish(self) -> None:
        self.store.write_manifest(
            {"model": {"name": self.model, "revision": None}, "vectors": self.vectors, "grid": {"cells": self.keys}}
        )
