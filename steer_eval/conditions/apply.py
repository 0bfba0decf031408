"""Putting a cell's condition (and rival arm) into a loaded lm-eval task: a user task's declared template as
config overrides (registry tasks get theirs through the dataset's `template` keyword), and the text before
every prompt, lm-eval's `description` (the system message under a chat template): the arm's instruction,
then the pressure prompt, then the earlier turns, each followed by the task's own delimiter."""

from __future__ import annotations

from steer_eval.conditions import Condition
from steer_eval.conditions.templates import user_templates
from steer_eval.conditions.turns import dialogue
from steer_eval.tasks.user_options import from_pairs, renderers


def description(task_ref, condition: Condition, arm, delimiter: str) -> str:
    """What goes before every prompt of a cell ('' for none)."""
    parts = []
    if arm is not None and arm.kind == "prompt":
        parts.append(arm.text)
    if condition.pressure:
        parts.append(dict(task_ref.pressures)[condition.pressure])
    if condition.turns:
        parts.append(dialogue(condition.turns, demo=(task_ref.registry or "").startswith("demo_")))
    return "".join(part + delimiter for part in parts)


def apply_condition(task, cell) -> None:
    """Configure a loaded lm-eval task for the cell's condition and arm (and, for a user task that declares
    its options, its option order)."""
    task_ref, condition, arm = cell.task, cell.condition, cell.arm
    listed = from_pairs(task_ref.options)
    if listed is not None:  # rendered by steer-eval from the declared fields, rotated and templated
        for key, value in renderers(listed, condition.template, cell.option_order, cell.option_orders).items():
            task.set_config(key=key, value=value)
    elif condition.template and task_ref.registry is None:
        chosen = user_templates(task.config.to_dict())[condition.template - 1]
        for key, value in chosen.items():
            task.set_config(key=key, value=value)
    # the instruction and context before every prompt, which lm-eval glues to the prompt as is, so the task's
    # own delimiter follows each part
    text = description(task_ref, condition, arm, task.config.fewshot_delimiter or "\n\n")
    if text:
        task.set_config(key="description", value=text)
