"""TruthfulQA (Lin et al. 2022, Apache-2.0) MC1 and MC2 from `truthfulqa/data/mc_task.json` (the 2025
revision, 790 questions; files from github.com/koppula/TruthfulQA @ 4dee2311, a fork whose data files are
upstream's). MC1: one true answer among false ones; MC2: several true answers (all listed in `correct`;
the target is the first true one as shown). The file lists true answers first, so options are shuffled
per item. Split 60/20/20 by a hash of the question."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from steer_eval.tasks import hub
from steer_eval.tasks.items import MCItem, hash_split, lettered_item
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "github.com/sylinrl/TruthfulQA (data as in github.com/koppula/TruthfulQA @ 4dee2311)"


def _load(which: str, folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for i, record in enumerate(json.loads((folder / "truthfulqa" / "data" / "mc_task.json").read_text())):
        targets = record[f"{which}_targets"]
        options = list(targets)
        truths = [k for k, value in enumerate(targets.values()) if value == 1]
        if not truths or (which == "mc1" and len(truths) != 1):
            raise ValueError(f"question {i} has {len(truths)} true {which.upper()} answers")
        extra = {} if which == "mc1" else {"correct": tuple(truths)}
        item = lettered_item(
            f"truthfulqa-{which}-{i}", f"Q: {record['question']}", options, truths[0], "truthfulqa", **extra
        )
        if which == "mc2":
            item = MCItem(item.id, item.stem, item.options, min(item.correct), item.layout, correct=item.correct)
        splits[hash_split(record["question"], "truthfulqa")].append(item)
    return splits


for _which in ("mc1", "mc2"):
    register(
        TaskSpec(
            name=f"truthfulqa_{_which}",
            kind="behavior",
            family="alignment",
            desired="target: a true answer; wanted",
            source=SOURCE,
            licence="Apache-2.0",
            loader=partial(_load, _which),
            data_files=("truthfulqa/data/mc_task.json",),
            groups=("truthfulqa",),
            hub=hub.truthfulqa(_which),
        )
    )
