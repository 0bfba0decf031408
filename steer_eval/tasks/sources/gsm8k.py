"""GSM8K (Cobbe et al. 2021, github.com/openai/grade-school-math @ 3101c7d5, MIT): grade-school maths
word problems, answered by generation and graded by exact match on the final number (tasks/metrics.py).
The authors' train file is split 80/20 into train/validation by a hash; test is test. Few-shot examples
show the worked solution (`meta["solution"]`)."""

from __future__ import annotations

import json
from pathlib import Path

from steer_eval.tasks import hub
from steer_eval.tasks.items import GenItem, hash_split
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "github.com/openai/grade-school-math @ 3101c7d5072418e28b9008a6636bde82a006892c"


def final_number(solution: str) -> str:
    if "####" not in solution:
        raise ValueError("a GSM8K answer must end in '#### <number>'")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def _items(path: Path, prefix: str) -> list[GenItem]:
    items = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            record = json.loads(line)
            prompt = f"Question: {record['question'].strip()}\nAnswer:"
            meta = {"solution": record["answer"].strip()}
            items.append(GenItem(f"gsm8k-{prefix}-{i}", prompt, final_number(record["answer"]), meta))
    return items


def _load(folder: Path) -> dict[str, list[GenItem]]:
    splits: dict[str, list[GenItem]] = {"train": [], "validation": [], "test": []}
    for item in _items(folder / "gsm8k" / "train.jsonl", "train"):
        splits[hash_split(item.prompt, "gsm8k", (0.8, 0.2, 0.0))].append(item)
    splits["test"] = _items(folder / "gsm8k" / "test.jsonl", "test")
    return splits


register(
    TaskSpec(
        name="gsm8k",
        kind="intelligence",
        family="math",
        desired="target: the correct final number",
        source=SOURCE,
        licence="MIT",
        loader=_load,
        data_files=("gsm8k/train.jsonl", "gsm8k/test.jsonl"),
        output="generate_until",
        hub=hub.gsm8k(),
    )
)
