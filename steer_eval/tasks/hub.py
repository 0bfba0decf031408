"""Hub copies of the datasets, for users with network and no local files: which Hugging Face dataset holds
each, and how its rows become steer-eval items. Local files (`--data-dir`, $STEER_EVAL_DATA) win when given.
The hub copies split differently from the authors' files in places (noted per dataset), so a run records
which one it used (`TaskSpec.load` returns the same items for the same source every time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from steer_eval.tasks.items import GenItem, MCItem, hash_split, lettered_item

Items = dict[str, list[Any]]


@dataclass(frozen=True)
class HubSource:
    path: str
    name: str | None
    convert: Callable[[Any], Items]  # DatasetDict -> {split: items}
    note: str = ""

    @property
    def url(self) -> str:
        return f"https://huggingface.co/datasets/{self.path}" + (f" ({self.name})" if self.name else "")

    def load(self) -> Items:
        import datasets

        return self.convert(datasets.load_dataset(self.path, self.name))


def _rows(dataset_dict, split: str) -> list[dict]:
    return list(dataset_dict[split]) if split in dataset_dict else []


def mmlu(subject: str) -> HubSource:
    def convert(dd) -> Items:
        splits = {"train": "dev", "validation": "validation", "test": "test"}
        return {
            ours: [
                MCItem(f"{subject}-{theirs}-{i}", r["question"].strip(), tuple(r["choices"]), int(r["answer"]))
                for i, r in enumerate(_rows(dd, theirs))
            ]
            for ours, theirs in splits.items()
        }

    return HubSource("cais/mmlu", subject, convert)


def _lettered_choices(item_id: str, stem: str, choices: dict, answer_key: str) -> MCItem:
    return MCItem(item_id, stem, tuple(choices["text"]), list(choices["label"]).index(answer_key))


def arc(level: str) -> HubSource:
    def convert(dd) -> Items:
        return {
            split: [
                _lettered_choices(r["id"], f"Question: {r['question'].strip()}", r["choices"], r["answerKey"])
                for r in _rows(dd, split)
            ]
            for split in ("train", "validation", "test")
        }

    return HubSource("allenai/ai2_arc", f"ARC-{level}", convert)


def openbookqa() -> HubSource:
    def convert(dd) -> Items:
        return {
            split: [
                _lettered_choices(r["id"], f"Question: {r['question_stem'].strip()}", r["choices"], r["answerKey"])
                for r in _rows(dd, split)
            ]
            for split in ("train", "validation", "test")
        }

    return HubSource("allenai/openbookqa", "main", convert)


def gsm8k() -> HubSource:
    from steer_eval.tasks.sources.gsm8k import final_number

    def convert(dd) -> Items:
        splits: Items = {"train": [], "validation": [], "test": []}
        for part in ("train", "test"):
            for i, r in enumerate(_rows(dd, part)):
                prompt = f"Question: {r['question'].strip()}\nAnswer:"
                item = GenItem(
                    f"gsm8k-{part}-{i}", prompt, final_number(r["answer"]), {"solution": r["answer"].strip()}
                )
                split = "test" if part == "test" else hash_split(prompt, "gsm8k", (0.8, 0.2, 0.0))
                splits[split].append(item)
        return splits

    return HubSource("openai/gsm8k", "main", convert, "same splits as the authors' files")


def truthfulqa(which: str) -> HubSource:
    def convert(dd) -> Items:
        splits: Items = {"train": [], "validation": [], "test": []}
        for i, r in enumerate(_rows(dd, "validation")):
            targets = r[f"{which}_targets"]
            truths = [k for k, label in enumerate(targets["labels"]) if label == 1]
            extra = {} if which == "mc1" else {"correct": tuple(truths)}
            item = lettered_item(
                f"truthfulqa-{which}-{i}", f"Q: {r['question']}", targets["choices"], truths[0], "truthfulqa", **extra
            )
            if which == "mc2":
                item = MCItem(item.id, item.stem, item.options, min(item.correct), item.layout, correct=item.correct)
            splits[hash_split(r["question"], "truthfulqa")].append(item)
        return splits

    return HubSource("truthfulqa/truthful_qa", "multiple_choice", convert, "the original 817 questions (2021)")


def sst2() -> HubSource:
    def convert(dd) -> Items:
        splits: Items = {"train": [], "validation": [], "test": []}
        for i, r in enumerate(_rows(dd, "train")):
            stem = f"{r['sentence'].strip()}\nQuestion: Is this sentence positive or negative?\nAnswer:"
            item = MCItem(f"sst2-train-{i}", stem, ("negative", "positive"), int(r["label"]), "continuation")
            splits[hash_split(r["sentence"].strip(), "sst2", (0.8, 0.2, 0.0))].append(item)
        for i, r in enumerate(_rows(dd, "validation")):  # GLUE's test labels are hidden: its dev is our test
            stem = f"{r['sentence'].strip()}\nQuestion: Is this sentence positive or negative?\nAnswer:"
            splits["test"].append(
                MCItem(f"sst2-test-{i}", stem, ("negative", "positive"), int(r["label"]), "continuation")
            )
        return splits

    return HubSource("stanfordnlp/sst2", None, convert, "all of GLUE's train split (the local file holds a subset)")


def hellaswag() -> HubSource:
    def convert(dd) -> Items:
        splits: Items = {"train": [], "validation": [], "test": []}
        for part in ("train", "validation"):  # the hub's test labels are hidden
            for i, r in enumerate(_rows(dd, part)):
                context = f"{r['activity_label']}: {r['ctx']}"
                item = MCItem(
                    f"hellaswag-{part}-{i}",
                    context,
                    tuple(e.strip() for e in r["endings"]),
                    int(r["label"]),
                    "continuation",
                )
                split = (
                    "train"
                    if part == "train"
                    else ("validation" if hash_split(context, "hellaswag", (0.0, 0.5, 0.5)) == "validation" else "test")
                )
                splits[split].append(item)
        return splits

    return HubSource(
        "Rowan/hellaswag", None, convert, "train = the hub's train; its validation halved into validation/test"
    )


def agieval_lsat(section: str) -> HubSource:
    """AGIEval's LSAT sections (`hails/agieval-lsat-<section>`, the copy lm-eval's agieval tasks read): each
    row is a rendered `query` ("Q: <passage and question> Answer Choices: (A)... \\nA: Among A through E, the
    answer is"), its `choices` ("(A)text", ...) and `gold` ([index]). The stem and option texts are taken
    apart again so that our layout and the option-order control apply; test only upstream, so 60/20/20 by a
    hash of the question."""

    def convert(dd) -> Items:
        splits: Items = {"train": [], "validation": [], "test": []}
        for i, r in enumerate(_rows(dd, "test")):
            query = str(r["query"]).strip()
            stem = query.removeprefix("Q:").split("Answer Choices:")[0].split("\nA:")[0].strip()
            options = tuple(re.sub(r"^\s*\(?[A-Ea-e]\)\s*", "", str(c)).strip() for c in r["choices"])
            gold = r["gold"]
            target = int(gold[0] if isinstance(gold, (list, tuple)) else gold)
            if not stem or not all(options):
                raise ValueError(f"row {i}: no question or an empty option after taking the query apart")
            item = MCItem(f"lsat_{section}-{i}", stem, options, target)
            splits[hash_split(stem, f"lsat_{section}")].append(item)
        return splits

    return HubSource(f"hails/agieval-lsat-{section}", None, convert, "AGIEval's test set, split 60/20/20 here")
