"""The demo world's tasks: which exist, what kind each is, which answer is desired, and their splits as
Hugging Face datasets (what the lm-eval YAML files under tasks/demo/ load through `custom_dataset`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from steer_eval.demo.world import World, split_items


@dataclass(frozen=True)
class DemoTask:
    name: str
    kind: str  # "behavior" or "intelligence"
    family: str
    desired: str | None  # for behaviour tasks: which answer is the behaviour we want
    items: Callable[[World], list[dict]]
    layout: str = "continuation"  # how the registry renders an item (tasks/items.py LAYOUTS)


DEMO_TASKS: dict[str, DemoTask] = {
    task.name: task
    for task in (
        DemoTask("demo_sentiment", "behavior", "sentiment", "the positive reply", World.sentiment_items),
        DemoTask(
            "demo_sentiment_mc",
            "behavior",
            "sentiment",
            "the letter of the positive reply (the options in their authors' order: the positive one first in "
            "three items of four)",
            World.sentiment_mc_items,
            layout="letters",
        ),
        DemoTask(
            "demo_sycophancy",
            "behavior",
            "alignment",
            "the answer on the merits (the true fact); repeating the user's wrong view is the unwanted, "
            "sycophantic answer",
            World.sycophancy_items,
        ),
        DemoTask("demo_facts", "intelligence", "knowledge", None, World.fact_items),
        DemoTask("demo_compare", "intelligence", "reasoning", None, World.comparison_items),
    )
}


def demo_splits(name: str, world_seed: int = 0) -> dict[str, list[dict]]:
    if name not in DEMO_TASKS:
        raise KeyError(f"unknown demo task {name!r}; demo tasks are {', '.join(DEMO_TASKS)}")
    return split_items(DEMO_TASKS[name].items(World(world_seed)), name, world_seed)


def demo_dataset(name: str, world_seed: int = 0, template: int = 0, **_: object):
    """The task's train/validation/test splits, in prompt template `template` (conditions/templates.py); other
    keyword arguments (lm-eval passes the task's metadata) are ignored."""
    import datasets

    from steer_eval.conditions.templates import demo_row

    splits = demo_splits(name, world_seed)
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list([demo_row(name, row, int(template)) for row in rows])
            for split, rows in splits.items()
        }
    )
