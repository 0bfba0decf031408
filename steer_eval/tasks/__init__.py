"""Labelled tasks as multiple-choice items: the registry and the loaders of each data source."""

from steer_eval.tasks.items import MCItem
from steer_eval.tasks.registry import TaskError, TaskSpec, all_tasks, get_task, load_split

__all__ = ["MCItem", "TaskError", "TaskSpec", "all_tasks", "get_task", "load_split"]
