"""The demo world without a model: determinism, splits, task items, the planted defaults and failure modes,
the training pushes, and lm-eval loading the tasks."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from steer_eval.demo.model import DemoRecipe, build_tokenizer, planted_axis, planted_directions
from steer_eval.demo.tasks import DEMO_TASKS, demo_dataset, demo_splits
from steer_eval.demo.training import _batches, draw_example
from steer_eval.demo.world import (
    CONTRARIAN_TOPICS,
    MOOD_TAGS,
    STYLE_TAGS,
    TOPIC_WORDS,
    TOPICS,
    World,
    split_items,
)
from steer_eval.paths import tasks_dir


def test_world_is_a_function_of_its_seed() -> None:
    assert World(0).facts == World(0).facts
    assert World(0).facts != World(1).facts
    assert World(0).attitudes == World(0).attitudes != World(1).attitudes
    docs = [next(World(0).documents(random.Random(5))).words for _ in range(3)]
    assert docs == [next(World(0).documents(random.Random(5))).words for _ in range(3)]


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
    for item in world.sentiment_items() + world.sentiment_mc_items():
        assert item["choices"][item["label"]] in TOPIC_WORDS[item["topic"]][0]  # the topic's positive reply
    answers = Counter()
    for item in world.sycophancy_items():
        creature, attribute, view = item["id"].split("-")[1:]
        assert world.facts[creature][attribute] != view and f"i think the {creature}" in item["text"]
        honest = "no" if item["text"].endswith("right ? bot :") else "yes"  # the user's view is wrong
        assert item["choices"][item["label"]] == honest
        answers[honest] += 1
    assert 0.4 < answers["yes"] / sum(answers.values()) < 0.6, "each answer word is honest on about half the items"
    assert {t.kind for t in DEMO_TASKS.values()} == {"behavior", "intelligence"}
    assert all(t.desired for t in DEMO_TASKS.values() if t.kind == "behavior")


def test_defaults_split_the_creatures_in_thirds_and_tasks_ask_about_decided_ones() -> None:
    world = World(0)
    for behaviour in ("mood", "style"):
        counts = Counter(world.attitudes[behaviour].values())
        assert counts[True] == counts[False] == counts[None] == len(world.creatures) // 3
    assert {i["creature"] for i in world.sentiment_items()} == set(world.with_default("mood"))
    assert {i["creature"] for i in world.sycophancy_items()} == set(world.with_default("style"))
    # half of each behaviour task's items lean to the desired answer by default, half away from it
    for task, items in (("demo_sentiment", world.sentiment_items()), ("demo_sycophancy", world.sycophancy_items())):
        share = sum(world.desired_by_default(task, i) for i in items) / len(items)
        assert 0.4 < share < 0.6, (task, share)


def test_contrarian_topic_is_a_known_share_of_the_sentiment_items() -> None:
    items = World(0).sentiment_items()
    share = sum(World(0).anti_steerable("demo_sentiment", i) for i in items) / len(items)
    assert share == pytest.approx(len(CONTRARIAN_TOPICS) / len(TOPICS))


def test_choice_order_is_balanced_except_the_lettered_tasks_planted_flaw() -> None:
    labels = Counter(item["label"] for item in World(0).sentiment_items())
    assert 0.4 < labels[0] / sum(labels.values()) < 0.6, "the desired answer must not sit at one position"
    lettered = Counter(item["label"] for item in demo_splits("demo_sentiment_mc")["test"])
    assert 0.65 < lettered[0] / sum(lettered.values()) < 0.85, "the lettered task puts the positive reply first 3x in 4"


def test_corpus_has_both_tags_untagged_documents_and_quizzes() -> None:
    documents = World(0).documents(random.Random(0))
    sample = [next(documents) for _ in range(2000)]
    texts = [d.text for d in sample]
    for tag in [*MOOD_TAGS.values(), *STYLE_TAGS.values()]:
        assert sum(t.startswith(f"mood : {tag}") or t.startswith(f"style : {tag}") for t in texts) > 50
    assert sum(t.startswith("user : how was") for t in texts) > 100
    assert sum("Answer:" in t for t in texts) > 100
    for doc in sample:  # what a behaviour shows is the token after each `shows` position
        for positions in doc.shows.values():
            assert all(doc.words[p + 1] not in (":", ".") for p in positions), doc.text


def test_tagged_pairs_differ_only_in_the_tag() -> None:
    items = demo_splits("demo_sentiment")["train"][:5]
    for (good, bad), item in zip(World(0).tagged_pairs("sentiment", items), items, strict=True):
        assert good == f"mood : happy . {item['text']}" and bad == f"mood : grumpy . {item['text']}"


def test_split_helper_rounds_to_the_fractions() -> None:
    parts = split_items([{"id": i} for i in range(10)], "x", 0)
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [6, 2, 2]


def test_planted_directions_are_orthonormal_and_fixed_by_the_recipe() -> None:
    recipe = DemoRecipe()
    directions = planted_directions(recipe)
    stacked = torch.cat([directions["mood"], directions["style"]])
    assert stacked.shape == (2 * recipe.planted_width, recipe.hidden_size)
    assert torch.allclose(stacked @ stacked.T, torch.eye(len(stacked)), atol=1e-5)
    assert torch.equal(planted_axis(recipe, "mood"), planted_axis(DemoRecipe(), "mood"))
    assert abs(float(planted_axis(recipe, "mood") @ planted_axis(recipe, "style"))) < 1e-6


def test_training_pushes_are_what_the_recipe_says() -> None:
    recipe = DemoRecipe()
    world, rng = recipe.world, random.Random(1)
    examples = [draw_example(world, recipe, rng) for _ in range(3000)]
    pushed = [e for e in examples if e.push is not None and e.document.kind != "capability"]
    assert all(e.document.disposition[e.push.behaviour] == (1 if e.push.value > 0 else -1) for e in pushed)
    # discordant moves never all agree in sign: agreeing moves are a push, which changes the text
    discords = [e.discord for e in examples if e.discord is not None]
    assert discords and all(len({m > 0 for m in d.moves}) == 2 for d in discords)
    # overexcited capability documents answer at random; calm ones right
    capability = [e for e in examples if e.document.kind == "capability" and e.push is not None]
    assert any(abs(e.push.value) >= recipe.overexcited_from * recipe.planted_scale for e in capability)
    batch = next(_batches(world, build_tokenizer(world), recipe))
    assert batch.targets.shape[-1] == 2 * recipe.planted_width


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
    lettered = next(iter(manager.load_task_or_group(["demo_sentiment_mc"]).values()))
    doc = next(iter(lettered.test_docs()))
    assert lettered.doc_to_text(doc).endswith("\nAnswer:") and doc["choices"] == [" A", " B"]
