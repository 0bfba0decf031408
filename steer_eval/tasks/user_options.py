"""A user's lm-eval task that lists its options in the prompt can say so, and then gets what registry tasks
get: option-order rotations (so the letter-prior artifact, METHODS.md flaw 1, is caught on the user's own
data), the layout templates of `--templates`, and the `artifact` verdict. The task declares which fields of
its documents hold the question, the options and the target, and how the options are listed:

    metadata:
      steer_eval_options: {stem: question, options: choices, target: label, layout: letters}

steer-eval then renders the prompt itself from those fields (tasks/items.py's layouts: `letters`,
`parenthesized`, `instructed`), the options rotated as the cell asks, the target following its text."""

from __future__ import annotations

from dataclasses import dataclass

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.items import MCItem

KEY = "steer_eval_options"
LISTED_LAYOUTS = ("letters", "parenthesized", "instructed")


@dataclass(frozen=True)
class DeclaredOptions:
    stem: str  # the document field with the question (without its options)
    options: str  # the field with the list of option texts
    target: str  # the field with the target: an option's index, or its text
    layout: str = "letters"

    def item(self, doc: dict) -> MCItem:
        options = tuple(str(option) for option in doc[self.options])
        target = doc[self.target]
        index = options.index(str(target)) if isinstance(target, str) and not target.isdigit() else int(target)
        return MCItem("doc", str(doc[self.stem]).strip(), options, index, layout=self.layout)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        return (("stem", self.stem), ("options", self.options), ("target", self.target), ("layout", self.layout))


def declared_options(task_name: str, config: dict) -> DeclaredOptions | None:
    """The task's declaration, checked (None when it declares none)."""
    raw = (config.get("metadata") or {}).get(KEY)
    if raw is None:
        return None
    fields = ("stem", "options", "target")
    if not isinstance(raw, dict) or any(not isinstance(raw.get(f), str) or not raw.get(f) for f in fields):
        raise SteerEvalError(
            f"task {task_name}: metadata.{KEY} needs the document fields stem, options and target (and optionally "
            f"layout: {', '.join(LISTED_LAYOUTS)}), e.g. {{stem: question, options: choices, target: label}}"
        )
    layout = raw.get("layout", "letters")
    if layout not in LISTED_LAYOUTS:
        raise SteerEvalError(
            f"task {task_name}: metadata.{KEY}.layout {layout!r} is not one of {', '.join(LISTED_LAYOUTS)}"
        )
    return DeclaredOptions(raw["stem"], raw["options"], raw["target"], layout)


def from_pairs(pairs: tuple[tuple[str, str], ...]) -> DeclaredOptions | None:
    return DeclaredOptions(**dict(pairs)) if pairs else None


def option_count(manager, task_name: str, declared: DeclaredOptions) -> int:
    """The most options any evaluated document of the task has (how many distinct orders it can be shown in)."""
    task = manager.load([task_name])["tasks"][task_name]
    docs = task.test_docs() if task.has_test_docs() else task.validation_docs()
    try:
        return max(len(declared.item(doc).options) for doc in docs)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise SteerEvalError(
            f"task {task_name}: its documents do not fit metadata.{KEY} ({type(exc).__name__}: {exc}); name the "
            "fields that hold the question, the list of options and the target index"
        ) from None


def renderers(declared: DeclaredOptions, template: int, order: int, orders: int) -> dict:
    """lm-eval config values that render each document through the declared layout (template `template` of
    it), its options in order `order` of `orders`."""
    from steer_eval.conditions.templates import templated

    def shown(doc: dict) -> MCItem:
        return templated(declared.item(doc), template).in_order(order, orders)

    return {
        "doc_to_text": lambda doc: shown(doc).prompt,
        "doc_to_choice": lambda doc: list(shown(doc).continuations),
        "doc_to_target": lambda doc: shown(doc).target,
        "target_delimiter": "",  # the continuations carry their leading space
    }
