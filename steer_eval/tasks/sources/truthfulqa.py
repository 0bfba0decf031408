"""TruthfulQA MC1 (Lin et al. 2022, github.com/sylinrl/TruthfulQA, Apache-2.0) from `truthfulqa/data/
mc_task.json`: one true answer among several false ones. The file lists the true answer first, so the
options are shuffled per item (a fixed order would put the answer at a constant letter). Split 60/20/20
by a hash of the question."""

from __future__ import annotations

import json
from pathlib import Path

from steer_eval.tasks.items import MCItem, hash_split, lettered_item
from steer_eval.tasks.registry import TaskSpec, register


def _load(folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for i, record in enumerate(json.loads((folder / "truthfulqa" / "data" / "mc_task.json").read_text())):
        targets = record["mc1_targets"]
        options = list(targets)
        truths = [k for k, v in enumerate(targets.values()) if v == 1]
        if len(truths) != 1:
            raise ValueError(f"question {i} has {len(truths)} true MC1 answers; expected exactly one")
        item = lettered_item(f"truthfulqa-{i}", f"Q: {record['question']}", options, truths[0], "truthfulqa")
        splits[hash_split(record["question"], "truthfulqa")].append(item)
    return splits


register(
    TaskSpec(
        name="truthfulqa_mc1",
        kind="behavior",
        family="alignment",
        desired="the true answer",
        source="github.com/sylinrl/TruthfulQA (Apache-2.0)",
        loader=_load,
        data_file="truthfulqa/data/mc_task.json",
    )
)
