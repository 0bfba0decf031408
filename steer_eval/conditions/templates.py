"""Prompt templates (issue 18): the same items in other formats, so the spread of an effect across formats
can be measured. Template 0 is always the task's own format.

- Registry multiple-choice tasks, by layout (tasks/items.py): their own layout, the other lettered layout
  ("A." vs "(A)"), and an instructed one (the question introduced by an instruction, "The answer is" as the
  cue); an item scored by its option texts (`continuation`) gets the two lettered layouts instead.
- The demo's mood task (`demo_sentiment`): the free reply ("bot : it was ..."), and the world's lettered quiz
  with the positive reply as A, then as B. A vector that only moves answer letters is sensitive to these by
  construction; one that moves the mood is not (docs/demo.md).
- Generation tasks and the other demo tasks declare only their own format: they run it with a note.
- A user's lm-eval task that declares its options (tasks/user_options.py) gets its layout's three; any other
  user task declares its own in its YAML metadata: `steer_eval_templates`, a list of mappings of lm-eval config
  keys (`doc_to_text`, `doc_to_choice`, `doc_to_target`, ...) to use instead of the task's own; template k
  (1-based) is the k-th entry."""

from __future__ import annotations

from dataclasses import replace

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.items import MCItem

LAYOUT_TEMPLATES = {
    "letters": ("letters", "parenthesized", "instructed"),
    "parenthesized": ("parenthesized", "letters", "instructed"),
    "continuation": ("continuation", "letters", "parenthesized"),
    "instructed": ("instructed", "letters", "parenthesized"),
}
DEMO_TEMPLATES = {"demo_sentiment": ("reply", "quiz, positive reply as A", "quiz, positive reply as B")}
USER_KEY = "steer_eval_templates"


def declared_count(registry: str | None, output: str, layouts: set[str], user_templates: int = 0) -> int:
    """How many templates a task declares (1: only its own format)."""
    if registry is None:
        return len(LAYOUT_TEMPLATES[next(iter(layouts))]) if layouts else 1 + user_templates
    if registry in DEMO_TEMPLATES:
        return len(DEMO_TEMPLATES[registry])
    if registry.startswith("demo_") or output != "multiple_choice" or not layouts:
        return 1
    return min(len(LAYOUT_TEMPLATES[layout]) for layout in layouts)


def template_names(registry: str | None, layouts: set[str], count: int) -> list[str]:
    if registry in DEMO_TEMPLATES:
        return list(DEMO_TEMPLATES[registry])
    if registry is not None and len(layouts) == 1:
        return list(LAYOUT_TEMPLATES[next(iter(layouts))])
    return ["own"] + [f"template {k}" for k in range(1, count)]


def templated(item: MCItem, template: int) -> MCItem:
    """A registry item in template `template` of its layout."""
    if not template:
        return item
    choices = LAYOUT_TEMPLATES[item.layout]
    if template >= len(choices):
        raise SteerEvalError(f"item {item.id}: template {template} is not one of 0..{len(choices) - 1}")
    return replace(item, layout=choices[template])


def demo_row(name: str, row: dict, template: int) -> dict:
    """A demo task's row in one of its templates (the mood task's quiz forms)."""
    if not template:
        return row
    if name not in DEMO_TEMPLATES or template >= len(DEMO_TEMPLATES[name]):
        raise SteerEvalError(f"demo task {name} has no template {template}")
    stem = row["text"].removesuffix(" bot : it was")
    positive, negative = row["choices"][row["label"]], row["choices"][1 - row["label"]]
    options = [positive, negative] if template == 1 else [negative, positive]
    text = f"{stem} A. {options[0]} B. {options[1]} Answer:"
    return {**row, "text": text, "choices": ["A", "B"], "label": options.index(positive)}


def user_templates(config: dict) -> list[dict]:
    """The templates a user task declares in its metadata, checked."""
    declared = (config.get("metadata") or {}).get(USER_KEY) or []
    if not isinstance(declared, list) or not all(isinstance(t, dict) and t for t in declared):
        raise SteerEvalError(
            f"task {config.get('task')}: metadata.{USER_KEY} must be a list of mappings of lm-eval keys "
            "(doc_to_text, doc_to_choice, ...) to their values in that template"
        )
    return declared
