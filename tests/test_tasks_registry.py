"""The task registry: names, kinds, desired answers, data-folder handling, and the real-data loaders."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from steer_eval.tasks import TaskError, all_tasks, get_task, load_split
from steer_eval.tasks.items import MCItem, lettered_item
from steer_eval.tasks.registry import DATA_ENV


def test_every_task_states_kind_family_desired_answer_and_source() -> None:
    tasks = all_tasks()
    assert {"demo_sentiment", "caa_sycophancy", "bbq_age", "truthfulqa_mc1"} <= set(tasks)
    for spec in tasks.values():
        assert spec.kind in ("behavior", "intelligence")
        assert spec.family and spec.desired and spec.source


def test_unknown_task_suggests_close_names() -> None:
    with pytest.raises(TaskError, match="did you mean bbq_age"):
        get_task("bbq_agee")


def test_missing_data_folder_says_how_to_fix(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(TaskError, match="--data-dir"):
        load_split("bbq_age", "train")
    with pytest.raises(TaskError, match=r"needs bbq/Age\.jsonl"):
        load_split("bbq_age", "train", tmp_path)
    with pytest.raises(TaskError, match="unknown split"):
        load_split("demo_facts", "dev")


def test_malformed_data_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "truthfulqa" / "data").mkdir(parents=True)
    (tmp_path / "truthfulqa" / "data" / "mc_task.json").write_text(json.dumps([{"question": "q?"}]))
    with pytest.raises(TaskError, match="malformed data"):
        load_split("truthfulqa_mc1", "train", tmp_path)


def test_options_are_shuffled_per_item_never_one_permutation_for_all() -> None:
    items = [
        lettered_item(f"q{i}", "Which?", ["right", "wrong 1", "wrong 2", "wrong 3"], 0, "seed") for i in range(200)
    ]
    letters = collections.Counter(item.target for item in items)
    assert len(letters) == 4 and min(letters.values()) > 25
    assert lettered_item("q1", "Which?", ["a", "b"], 0, "seed") == lettered_item("q1", "Which?", ["a", "b"], 0, "seed")


def test_item_validation() -> None:
    with pytest.raises(ValueError, match="target"):
        MCItem("x", "p", (" A", " B"), 2, "q", ("a", "b"))


def test_caa_items_keep_the_authors_answers(shared_data: Path) -> None:
    raw = json.loads((shared_data / "caa" / "generate" / "sycophancy" / "generate_dataset.json").read_text())
    splits = get_task("caa_sycophancy").load(shared_data)
    assert len(splits["train"]) + len(splits["validation"]) == len(raw) and len(splits["test"]) == 50
    by_id = {item.id: item for split in ("train", "validation") for item in splits[split]}
    for i, record in enumerate(raw[:100]):
        item = by_id[f"sycophancy-generate-{i}"]
        assert item.continuations[item.target] == f" {record['answer_matching_behavior']}"
        assert item.continuations[item.contrast] == f" {record['answer_not_matching_behavior']}"
        assert item.prompt.startswith(record["question"])


def test_truthfulqa_answer_letters_are_balanced_and_true_answer_kept(shared_data: Path) -> None:
    raw = json.loads((shared_data / "truthfulqa" / "data" / "mc_task.json").read_text())
    items = [item for split in get_task("truthfulqa_mc1").load(shared_data).values() for item in split]
    assert len(items) == len(raw)
    truths = {rec["question"]: next(k for k, v in rec["mc1_targets"].items() if v == 1) for rec in raw}
    for item in items[:100]:
        question = item.question.removeprefix("Q: ").removesuffix("\nAnswer:")
        assert item.option_texts[item.target] == truths[question]
    letters = collections.Counter(item.target for item in items)
    assert letters.most_common(1)[0][1] < 0.4 * len(items)  # the file lists the true answer first


def test_bbq_templates_never_straddle_splits(shared_data: Path) -> None:
    splits = get_task("bbq_age").load(shared_data)
    templates = collections.defaultdict(set)
    for line in (shared_data / "bbq" / "Age.jsonl").read_text().splitlines():
        record = json.loads(line)
        templates[record["question_index"]].add(f"Age-{record['example_id']}")
    where = {item.id: split for split, items in splits.items() for item in items}
    for ids in templates.values():
        assert len({where[i] for i in ids}) == 1
    assert sum(len(v) for v in splits.values()) == 3680
