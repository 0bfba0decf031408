"""ARC, the AI2 Reasoning Challenge (Clark et al. 2018, CC BY-SA 4.0), Easy and Challenge, with the
authors' Train / Dev / Test files as train / validation / test. Labels A-E or 1-5, options in the authors'
order."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from steer_eval.tasks import hub
from steer_eval.tasks.items import MCItem
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "allenai.org/data/arc ARC-V1-Feb2018 (files via github.com/RazvanDu/TemporalRNNs @ 93811e3f)"
SPLIT_FILES = {"train": "Train", "validation": "Dev", "test": "Test"}


def _load(level: str, folder: Path) -> dict[str, list[MCItem]]:
    splits = {}
    for split, name in SPLIT_FILES.items():
        items = []
        path = folder / "arc" / f"ARC-{level}" / f"ARC-{level}-{name}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            choices = record["question"]["choices"]
            labels = [c["label"] for c in choices]
            items.append(
                MCItem(
                    id=record["id"],
                    stem=f"Question: {record['question']['stem'].strip()}",
                    options=tuple(c["text"] for c in choices),
                    target=labels.index(record["answerKey"]),
                )
            )
        splits[split] = items
    return splits


for _level in ("Easy", "Challenge"):
    register(
        TaskSpec(
            name=f"arc_{_level.lower()}",
            kind="intelligence",
            family="reasoning",
            desired="target: the correct answer",
            source=SOURCE,
            licence="CC BY-SA 4.0",
            loader=partial(_load, _level),
            data_files=tuple(f"arc/ARC-{_level}/ARC-{_level}-{n}.jsonl" for n in SPLIT_FILES.values()),
            groups=("arc",),
            hub=hub.arc(_level),
        )
    )
