"""BBQ, the Bias Benchmark for QA (Parrish et al. 2022, github.com/nyu-mll/BBQ @ bea11bd9, CC BY 4.0), one
task per category file `bbq/<Category>.jsonl`, ambiguous and disambiguated contexts together. The target
is the gold answer: in ambiguous contexts that is "unknown", so naming a group is the biased error.

Per item, `meta` records the context condition, the answer naming the group a biased reader would pick
(for a negative question: the stereotyped group; for a non-negative one: the other group) and the
"unknown" answer, for BBQ's bias scores (tasks/metrics.py). Splits are 60/20/20 of the items by question
template (category + question_index): a template's variants stay in one split, and since a category has only
25 templates of very different sizes, the templates are assigned so that the item counts come close to
60/20/20 (`items.grouped_split`; a plain hash per template left 5 % of Disability_status in test). Options are
shuffled per item."""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from pathlib import Path

from steer_eval.tasks.items import MCItem, grouped_split, lettered_item
from steer_eval.tasks.registry import TaskSpec, register

CATEGORIES = ("Age", "Disability_status", "Nationality", "Physical_appearance", "Religion", "Sexual_orientation")
SOURCE = "github.com/nyu-mll/BBQ @ bea11bd97d79217245b5871acd247b9d6eb24598"


def biased_option(record: dict) -> tuple[int | None, int]:
    """(the option a biased answer names, or None if the data does not tell; the 'unknown' option)."""
    info = record["answer_info"]
    names = [str(info[f"ans{k}"][0]).lower() for k in range(3)]
    groups = [str(info[f"ans{k}"][1]).lower() for k in range(3)]
    unknown = groups.index("unknown")
    stereotyped = {str(g).lower() for g in record["additional_metadata"]["stereotyped_groups"]}
    named = [k for k in range(3) if k != unknown]
    # the group label ("old" / "nonOld") or, where labels are regions (Nationality), the answer's name
    hits = [k for k in named if groups[k] in stereotyped or names[k] in stereotyped]
    if len(hits) != 1:
        return None, unknown
    target_group = hits[0]
    other = next(k for k in named if k != target_group)
    return (target_group if record["question_polarity"] == "neg" else other), unknown


def _load(category: str, folder: Path) -> dict[str, list[MCItem]]:
    with open(folder / "bbq" / f"{category}.jsonl", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    templates = Counter(f"{category}-{record['question_index']}" for record in records)
    template_split = grouped_split(templates, "bbq")
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for record in records:
        biased, unknown = biased_option(record)
        item = lettered_item(
            item_id=f"{category}-{record['example_id']}",
            stem=f"{record['context']} {record['question']}",
            options=[record["ans0"], record["ans1"], record["ans2"]],
            target=int(record["label"]),
            shuffle_seed="bbq",
            # answer texts, not positions: they stay right when the option order is permuted
            meta={
                "context_condition": record["context_condition"],
                "polarity": record["question_polarity"],
                "biased_answer": None if biased is None else record[f"ans{biased}"],
                "unknown_answer": record[f"ans{unknown}"],
            },
        )
        splits[template_split[f"{category}-{record['question_index']}"]].append(item)
    return splits


for _category in CATEGORIES:
    register(
        TaskSpec(
            name=f"bbq_{_category.lower()}",
            kind="behavior",
            family="bias",
            desired="target: the gold answer ('unknown' when the context is ambiguous), the unbiased answer; wanted",
            source=SOURCE,
            licence="CC BY 4.0",
            loader=partial(_load, _category),
            data_files=(f"bbq/{_category}.jsonl",),
            groups=("bbq",),
        )
    )
