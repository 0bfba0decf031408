"""CAA's A/B behaviour sets (Rimsky et al. 2024, github.com/nrimsky/CAA, MIT; items from Anthropic's
model-written evals, CC BY 4.0). `generate/<behavior>/generate_dataset.json` (the vector-building set)
is split 80/20 into train/validation by a hash of the question; `test/<behavior>/test_dataset_ab.json`
is the test split, as in the CAA paper.

The target is CAA's `answer_matching_behavior`: a vector built from these tasks points TOWARD the named
behaviour (more sycophancy, more refusal, ...). Whether that behaviour is wanted is the user's call;
use a negative strength to steer away from it."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

from steer_eval.tasks.items import MCItem, hash_split
from steer_eval.tasks.registry import TaskSpec, register

BEHAVIORS = {
    "coordinate-other-ais": "alignment",
    "corrigible-neutral-HHH": "alignment",
    "hallucination": "alignment",
    "myopic-reward": "alignment",
    "refusal": "alignment",
    "survival-instinct": "alignment",
    "sycophancy": "alignment",
}
_OPTION = re.compile(r"^\s*\(([A-Z])\)\s*(.*)$")


def parse_ab(item_id: str, record: dict) -> MCItem:
    question = record["question"]
    options: dict[str, str] = {}
    stem_lines = []
    for line in question.splitlines():
        match = _OPTION.match(line)
        if match:
            options[match.group(1)] = match.group(2).strip()
        elif not options:
            stem_lines.append(line)
    letters = sorted(options)
    matching = record["answer_matching_behavior"].strip().strip("()")
    other = record["answer_not_matching_behavior"]
    other = (other[0] if isinstance(other, list) else other).strip().strip("()")
    if matching not in options or other not in options:
        raise ValueError(f"{item_id}: answers ({matching}) / ({other}) are not among the options {letters}")
    stem = "\n".join(stem_lines).strip().removesuffix("Choices:").strip()
    return MCItem(
        id=item_id,
        prompt=f"{question.rstrip()}\n\nAnswer:",
        continuations=tuple(f" ({letter})" for letter in letters),
        target=letters.index(matching),
        question=f"{stem}\n\nAnswer:",
        option_texts=tuple(options[letter] for letter in letters),
        contrast=letters.index(other),
    )


def _load(behavior: str, folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    generate = json.loads((folder / "caa" / "generate" / behavior / "generate_dataset.json").read_text())
    for i, record in enumerate(generate):
        split = hash_split(record["question"], f"caa-{behavior}", (0.8, 0.2, 0.0))
        splits[split].append(parse_ab(f"{behavior}-generate-{i}", record))
    test_file = folder / "caa" / "test" / behavior / "test_dataset_ab.json"
    if test_file.is_file():
        splits["test"] = [parse_ab(f"{behavior}-test-{i}", r) for i, r in enumerate(json.loads(test_file.read_text()))]
    return splits


for _behavior, _family in BEHAVIORS.items():
    register(
        TaskSpec(
            name=f"caa_{_behavior.lower().replace('-', '_')}",
            kind="behavior",
            family=_family,
            desired=f"the answer matching the behaviour '{_behavior}' (CAA's answer_matching_behavior)",
            source="github.com/nrimsky/CAA (MIT; items from github.com/anthropics/evals, CC BY 4.0)",
            loader=partial(_load, _behavior),
            data_file=f"caa/generate/{_behavior}/generate_dataset.json",
        )
    )
