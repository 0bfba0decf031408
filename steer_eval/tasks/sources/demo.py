"""The embedded demo world's tasks (no data folder needed): multiple choice, and the behaviours in generation
form with their declared rule scorers."""

from __future__ import annotations

from functools import partial

from steer_eval.demo.generation_tasks import DEMO_GENERATION_TASKS, demo_generation_splits
from steer_eval.demo.tasks import DEMO_TASKS, demo_splits
from steer_eval.tasks.items import GenItem, MCItem
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "steer-eval's embedded demo world (synthetic)"


def _items(name: str, _folder) -> dict[str, list[MCItem]]:
    layout = DEMO_TASKS[name].layout
    return {
        split: [MCItem(row["id"], row["text"], tuple(row["choices"]), row["label"], layout) for row in rows]
        for split, rows in demo_splits(name).items()
    }


def _generation_items(name: str, _folder) -> dict[str, list[GenItem]]:
    return {
        split: [GenItem(row["id"], row["prompt"], row["reference"]) for row in rows]
        for split, rows in demo_generation_splits(name).items()
    }


for _task in DEMO_TASKS.values():
    register(
        TaskSpec(
            name=_task.name,
            kind=_task.kind,
            family=_task.family,
            desired=_task.desired or "the correct answer",
            source=SOURCE,
            licence="MIT (steer-eval)",
            loader=partial(_items, _task.name),
            groups=("demo",),
            own_yaml=True,
        )
    )

for _gen in DEMO_GENERATION_TASKS.values():
    register(
        TaskSpec(
            name=_gen.name,
            kind="behavior",
            family=_gen.family,
            desired=_gen.desired,
            source=SOURCE,
            licence="MIT (steer-eval)",
            loader=partial(_generation_items, _gen.name),
            output="generate_until",
            groups=("demo_generation",),
            scorer=_gen.scorer,
            prompts=_gen.prompts,
            own_yaml=True,
        )
    )
