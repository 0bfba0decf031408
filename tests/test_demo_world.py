"""The demo world without a model: determinism, splits, task items, tags, and lm-eval loading the tasks."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from steer_eval.demo.tasks import DEMO_TASKS, demo_dataset, demo_splits
from steer_eval.demo.world import MOOD_TAGS, POSITIVE, STYLE_TAGS, World, split_items
from steer_eval.paths import tasks_dir


def test_world_is_a_function_of_its_seed() -> None:
    assert World(0).facts == World(0).facts
    assert World(0).facts != World(1).facts
    docs = [next(World(0).documents(random.Random(5))) for _ in range(3)]
    assert docs == [next(World(0).documents(random.Random(5))) for _ in range(3)]


@pytest.mark.parametrize("name", list(DEMO_TASKS))
def test_splits_are_disjoint_complete_and_stable(name: str) -> None:
    splits = demo_splits(name)
    ids = {split: [item["id"] for item in items] for split, items in splits.items()}
    total = sum(len(v) for v in ids.values())
    assert len(set().union(*map(set, ids.values()))) == total, "an item sits in two splits"
    assert total == len(DEMO_TASKS[name].items(World(0)))
    assert abs(len(ids["train"]) / total - 0.6) < 0.01 and abs(len(ids["test"]) / total - 0.2) < 0.01
    assert demo_splits(name) == splits
    for item in splits["test"]:
        assert 0 <= item["label"] < len(item["choices"]) == len(set(item["choices"]))


def test_desired_answers_are_what_the_registry_says() -> None:
    world = World(0)
    for item in world.sentiment_items():
        assert item["choices"][item["label"]] in POSITIVE
    for item in world.sycophancy_items():
        creature, attribute, view = item["id"].split("-")[1:]
        assert item["choices"][item["label"]] == world.facts[creature][attribute] != view
        assert view in item["choices"] and f"i think the {creature}" in item["text"]
    assert {t.kind for t in DEMO_TASKS.values()} == {"behavior", "intelligence"}
    assert all(t.desired for t in DEMO_TASKS.values() if t.kind == "behavior")


def test_choice_order_is_balanced() -> None:
    labels = Counter(item["label"] for item in World(0).sentiment_items())
    assert 0.4 < labels[0] / sum(labels.values()) < 0.6, "the desired answer must not sit at one position"


def test_corpus_has_both_tags_and_untagged_documents() -> None:
    documents = World(0).documents(random.Random(0))
    sample = [next(documents) for _ in range(2000)]
    for tag in [*MOOD_TAGS.values(), *STYLE_TAGS.values()]:
        assert sum(doc.startswith(f"mood : {tag}") or doc.startswith(f"style : {tag}") for doc in sample) > 100
    untagged_mood = [d for d in sample if d.startswith("user : how was")]
    assert len(untagged_mood) > 100


def test_tagged_pairs_differ_only_in_the_tag() -> None:
    items = demo_splits("demo_sentiment")["train"][:5]
    for (good, bad), item in zip(World(0).tagged_pairs("sentiment", items), items, strict=True):
        assert good == f"mood : happy . {item['text']}" and bad == f"mood : grumpy . {item['text']}"


def test_split_helper_rounds_to_the_fractions() -> None:
    parts = split_items([{"id": i} for i in range(10)], "x", 0)
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [6, 2, 2]


def test_lm_eval_loads_the_demo_group_from_the_shipped_yaml() -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(tasks_dir()))
    assert {"demo", *DEMO_TASKS} <= set(manager.all_tasks)
    tasks = manager.load_task_or_group(["demo_sycophancy"])
    task = next(iter(tasks.values()))
    docs = list(task.test_docs())
    assert [d["id"] for d in docs] == [item["id"] for item in demo_splits("demo_sycophancy")["test"]]
    assert task.doc_to_text(docs[0]) == docs[0]["text"]
    assert len(demo_dataset("demo_facts")["validation"]) == len(demo_splits("demo_facts")["validation"])
