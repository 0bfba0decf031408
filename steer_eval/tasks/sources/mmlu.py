"""MMLU (Hendrycks et al., ICLR 2021, github.com/hendrycks/test, MIT), the original CSV release
(`mmlu/{dev,val,test}/<subject>_{dev,val,test}.csv`, no header: question, A, B, C, D, answer letter).
One task per subject, grouped as lm-eval groups them (stem, humanities, social_sciences, other).
Splits: dev (5 per subject, the few-shot examples) = train, val = validation, test = test. The options
keep the authors' order; the option-order control rotates them."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

from steer_eval.tasks import hub
from steer_eval.tasks.items import MCItem
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "github.com/hendrycks/test (CSV release; files via github.com/RazvanDu/TemporalRNNs @ 799e65e4)"
SPLIT_FILES = {"train": "dev", "validation": "val", "test": "test"}


def categories() -> dict[str, str]:
    """subject -> lm-eval's MMLU category."""
    from lm_eval.tasks.mmlu._generate_configs import SUBJECTS

    return dict(SUBJECTS)


def _load(subject: str, folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {}
    for split, name in SPLIT_FILES.items():
        items = []
        with open(folder / "mmlu" / name / f"{subject}_{name}.csv", encoding="utf-8", newline="") as handle:
            for i, row in enumerate(csv.reader(handle)):
                if len(row) != 6 or row[5].strip() not in "ABCD":
                    raise ValueError(f"{subject}_{name}.csv row {i + 1}: expected question, A, B, C, D, answer letter")
                items.append(
                    MCItem(f"{subject}-{name}-{i}", row[0].strip(), tuple(row[1:5]), "ABCD".index(row[5].strip()))
                )
        splits[split] = items
    return splits


for _subject, _category in categories().items():
    register(
        TaskSpec(
            name=f"mmlu_{_subject}",
            kind="intelligence",
            family="knowledge",
            desired="target: the correct answer",
            source=SOURCE,
            licence="MIT",
            loader=partial(_load, _subject),
            data_files=tuple(f"mmlu/{n}/{_subject}_{n}.csv" for n in SPLIT_FILES.values()),
            groups=("mmlu", f"mmlu_{_category}"),
            hub=hub.mmlu(_subject),
        )
    )
