"""BBQ, the Bias Benchmark for QA (Parrish et al. 2022, github.com/nyu-mll/BBQ, CC BY 4.0), one task per
category file `bbq/<Category>.jsonl`. The target is the gold answer: in ambiguous contexts that is
"unknown", so choosing the stereotyped group is the unwanted, biased answer.

Splits are 60/20/20 by a hash of the question template (category + question_index): the variants of a
template (polarity, ambiguous / disambiguated context) stay together, so no template leaks across splits.
Options are shuffled per item."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from steer_eval.tasks.items import MCItem, hash_split, lettered_item
from steer_eval.tasks.registry import TaskSpec, register

CATEGORIES = ("Age", "Disability_status", "Nationality", "Physical_appearance", "Religion", "Sexual_orientation")


def _load(category: str, folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    with open(folder / "bbq" / f"{category}.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            item = lettered_item(
                item_id=f"{category}-{record['example_id']}",
                stem=f"{record['context']} {record['question']}",
                options=[record["ans0"], record["ans1"], record["ans2"]],
                target=int(record["label"]),
                shuffle_seed="bbq",
            )
            splits[hash_split(f"{category}-{record['question_index']}", "bbq")].append(item)
    return splits


for _category in CATEGORIES:
    register(
        TaskSpec(
            name=f"bbq_{_category.lower()}",
            kind="behavior",
            family="bias",
            desired="the gold answer ('unknown' when the context is ambiguous): the unbiased answer",
            source="github.com/nyu-mll/BBQ (CC BY 4.0)",
            loader=partial(_load, _category),
            data_file=f"bbq/{_category}.jsonl",
        )
    )
