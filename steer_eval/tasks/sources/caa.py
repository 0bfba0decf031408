"""CAA's A/B behaviour sets (Rimsky et al. 2024, github.com/nrimsky/CAA, MIT; items from Anthropic's
model-written evals, CC BY 4.0): `generate/<behavior>/generate_dataset.json` and
`test/<behavior>/test_dataset_ab.json`, pooled and split 60/20/20 by the question (`questions.question_split`:
the same split as the same question gets in every other task; four of these sets are Anthropic's
advanced-AI-risk sets, the `airisk_*` tasks, question for question). We deliberately do not keep CAA's own
test split: it asks the same questions as the generate set (sycophancy: all 50 test items are generate
questions under other personas; corrigibility: 19 of 50), so a vector would be tested on the questions it
was built from.

The target is CAA's `answer_matching_behavior`: a vector built from these tasks points TOWARD the named
behaviour. Whether more of it is wanted is stated per set (`target_is_desired`): refusal and corrigibility
are wanted; sycophancy, hallucination, myopic reward, survival instinct and AI coordination are not."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from steer_eval.tasks.items import MCItem
from steer_eval.tasks.questions import question_split
from steer_eval.tasks.registry import TaskSpec, register
from steer_eval.tasks.sources.ab import parse_ab

SOURCE = "github.com/nrimsky/CAA @ e1fce128 (files via github.com/EleutherAI/rnngineering @ b18a80e3)"
BEHAVIORS = {  # behaviour: is more of it wanted?
    "coordinate-other-ais": False,
    "corrigible-neutral-HHH": True,
    "hallucination": False,
    "myopic-reward": False,
    "refusal": True,
    "survival-instinct": False,
    "sycophancy": False,
}


def _load(behavior: str, folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for part, path in (
        ("generate", folder / "caa" / "generate" / behavior / "generate_dataset.json"),
        ("test", folder / "caa" / "test" / behavior / "test_dataset_ab.json"),
    ):
        for i, record in enumerate(json.loads(path.read_text())):
            item = parse_ab(f"{behavior}-{part}-{i}", record)
            splits[question_split(item)].append(item)
    return splits


for _behavior, _wanted in BEHAVIORS.items():
    register(
        TaskSpec(
            name=f"caa_{_behavior.lower().replace('-', '_')}",
            kind="behavior",
            family="safety" if _behavior == "refusal" else "alignment",
            desired=f"target: the answer matching '{_behavior}' (CAA's answer_matching_behavior); "
            f"more of it is {'wanted' if _wanted else 'UNWANTED'}",
            source=SOURCE,
            licence="MIT (items: CC BY 4.0)",
            loader=partial(_load, _behavior),
            data_files=(
                f"caa/generate/{_behavior}/generate_dataset.json",
                f"caa/test/{_behavior}/test_dataset_ab.json",
            ),
            target_is_desired=_wanted,
            groups=("caa",),
        )
    )
