"""Prompt templates (issue 18): the same items in other formats, so the spread of an effect across formats
can be measured. Template 0 is always the task's own format.

- Registry multiple-choice tasks, by layout (tasks/items.py): their own layout, the other lettered layout
  ("A." vs "(A)"), and an instructed one (the question introduced by an instruction, "The answer is" as the
  cue); an item scored by its option texts (`continuation`) gets the two lettered layouts instead.
- Registry generation tasks ("Instruction: ...\nResponse:", "Question: ...\nAnswer:"): their own, the text
  introduced as something a user wrote with "Your reply:" as the cue, and a chat turn ("User: ...\nAssistant:").
- The demo's mood task (`demo_sentiment`): the free reply ("bot : it was ..."), and the world's lettered quiz
  with the positive reply as A, then as B. A vector that only moves answer letters is sensitive to these by
  construction; one that moves the mood is not (docs/demo.md). Its other behaviour tasks use the world's
  words in forms its model never saw (the user's view before the note, the question asked the other way
  round, the reply begun, the quiz's cue): a template need not be one the model was tuned on, as real users'
  prompts are not.
- A user's lm-eval task that declares its options (tasks/user_options.py) gets its layout's three; any other
  user task declares its own in its YAML metadata: `steer_eval_templates`, a list of mappings of lm-eval config
  keys (`doc_to_text`, `doc_to_choice`, `doc_to_target`, ...) to use instead of the task's own; template k
  (1-based) is the k-th entry."""

from __future__ import annotations

import re
from dataclasses import replace

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.items import MCItem

LAYOUT_TEMPLATES = {
    "letters": ("letters", "parenthesized", "instructed"),
    "parenthesized": ("parenthesized", "letters", "instructed"),
    "continuation": ("continuation", "letters", "parenthesized"),
    "instructed": ("instructed", "letters", "parenthesized"),
}
DEMO_TEMPLATES = {
    "demo_sentiment": ("reply", "quiz, positive reply as A", "quiz, positive reply as B"),
    "demo_sycophancy": ("as asked", "asked the other way round", "the view before the note"),
    "demo_honesty_gen": ("as asked", "asked the other way round", "the view before the note"),
    "demo_mood_gen": ("as asked", "the reply begun", "the quiz's cue"),
}
DEMO_BY_LAYOUT = ("demo_sentiment_mc",)  # demo tasks rendered by the registry's adapter, so by their layout
GENERATION_TEMPLATES = ("own", "a user's text, 'Your reply:'", "a chat turn")
_LABELLED = re.compile(r"^(?P<label>[A-Z][\w ]*): (?P<body>.*)\n(?P<cue>[A-Z]\w*):$", re.DOTALL)
USER_KEY = "steer_eval_templates"


def declared_count(registry: str | None, output: str, layouts: set[str], user_templates: int = 0) -> int:
    """How many templates a task declares (1: only its own format)."""
    if registry is None:
        return len(LAYOUT_TEMPLATES[next(iter(layouts))]) if layouts else 1 + user_templates
    if registry in DEMO_TEMPLATES:
        return len(DEMO_TEMPLATES[registry])
    if registry.startswith("demo_") and registry not in DEMO_BY_LAYOUT:
        return 1  # rendered by the demo's own loader, which knows no other format
    if output == "generate_until":
        return len(GENERATION_TEMPLATES)
    if output != "multiple_choice" or not layouts:
        return 1
    return min(len(LAYOUT_TEMPLATES[layout]) for layout in layouts)


def template_names(registry: str | None, layouts: set[str], count: int) -> list[str]:
    if registry in DEMO_TEMPLATES:
        return list(DEMO_TEMPLATES[registry])
    if registry is not None and not layouts:
        return list(GENERATION_TEMPLATES)
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


def generation_prompt(prompt: str, template: int) -> str:
    """A registry generation prompt in template `template`: the text between its label and its cue, shown as a
    user's text to reply to, or as a chat turn."""
    if not template:
        return prompt
    match = _LABELLED.match(prompt)
    body = match["body"] if match else prompt
    if template == 1:
        return f"Here is something a user wrote.\n\n{body}\n\nYour reply:"
    if template == 2:
        return f"User: {body}\nAssistant:"
    raise SteerEvalError(f"generation template {template} is not one of 0..{len(GENERATION_TEMPLATES) - 1}")


def demo_row(name: str, row: dict, template: int) -> dict:
    """A demo task's row (multiple choice: `text`, `choices`, `label`; generation: `prompt`, `reference`) in one
    of its templates."""
    if not template:
        return row
    if name not in DEMO_TEMPLATES or template >= len(DEMO_TEMPLATES[name]):
        raise SteerEvalError(f"demo task {name} has no template {template}")
    if name == "demo_sentiment":
        return _quiz(row, template)
    if name == "demo_mood_gen":
        stem = row["prompt"].removesuffix(" bot :")
        prompt = f"{stem} bot : it was" if template == 1 else "q : " + stem.removeprefix("user : ") + " a :"
        return {**row, "prompt": prompt}
    field = "text" if "text" in row else "prompt"
    note, _, view = row[field].partition(" user : ")
    if template == 2:  # "user : i think ... right ? note : ... bot :"
        return {**row, field: f"user : {view.removesuffix(' bot :')} {note} bot :"}
    flipped = {"right": "wrong", "wrong": "right", "yes": "no", "no": "yes"}
    asks = "right" if " right ? bot :" in row[field] else "wrong"
    text = row[field].replace(f" {asks} ? bot :", f" {flipped[asks]} ? bot :")
    if field == "text":  # the honest answer to the question asked the other way round is the other word
        return {**row, "text": text, "choices": [flipped[c] for c in row["choices"]]}
    return {**row, "prompt": text, "reference": flipped[row["reference"]], "demonstration": flipped[row["reference"]]}


def _quiz(row: dict, template: int) -> dict:
    """The mood question as the world's lettered quiz, the positive reply as A (template 1) or B (2)."""
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
