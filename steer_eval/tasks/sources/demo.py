"""The embedded demo world's tasks (no data folder needed)."""

from __future__ import annotations

from functools import partial

from steer_eval.demo.tasks import DEMO_TASKS, demo_splits
from steer_eval.tasks.items import MCItem
from steer_eval.tasks.registry import TaskSpec, register


def _items(name: str, _folder) -> dict[str, list[MCItem]]:
    layout = DEMO_TASKS[name].layout
    return {
        split: [MCItem(row["id"], row["text"], tuple(row["choices"]), row["label"], layout) for row in rows]
        for split, rows in demo_splits(name).items()
    }


for _task in DEMO_TASKS.values():
    register(
        TaskSpec(
            name=_task.name,
            kind=_task.kind,
            family=_task.family,
            desired=_task.desired or "the correct answer",
            source="steer-eval's embedded demo world (synthetic)",
            licence="MIT (steer-eval)",
            loader=partial(_items, _task.name),
            groups=("demo",),
        )
    )
