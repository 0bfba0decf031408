"""The records every task is reduced to, and how a multiple-choice item is laid out as a prompt.

An `MCItem` keeps its structure (stem, option texts, target) and renders its prompt from a layout, so an
option-order control can permute the options and re-render: the target follows its text to a new letter.

Layouts:
- `letters`:        "{stem}\\nA. ...\\nB. ...\\nAnswer:", scored continuations " A", " B" (PAS, MMLU style)
- `parenthesized`:  "{stem}\\n\\nChoices:\\n (A) ...\\n (B) ...\\n\\nAnswer:", continuations " (A)" (CAA and
                    Anthropic's model-written evals)
- `instructed`:     "Read the question and choose one answer.\n{stem}\nA. ...\nB. ...\nThe answer is",
                    continuations " A", " B" (a reworded template: conditions/templates.py)
- `continuation`:   "{stem}", continuations " " + option text (HellaSwag, SST-2, the demo): option order
                    does not exist for the model here, so the option-order control is moot.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

LETTERS = string.ascii_uppercase
LAYOUTS = ("letters", "parenthesized", "continuation", "instructed")
INSTRUCTION = "Read the question and choose one answer."


@dataclass(frozen=True)
class MCItem:
    """One multiple-choice item. `target` is the option a behaviour task wants more of or a capability
    task counts as correct (see the task's `desired`); `correct` lists every acceptable option where there
    are several (TruthfulQA MC2); `contrast`, when the data names one, is the single opposite answer
    (CAA's answer_not_matching_behavior), otherwise every other option is one. `meta` carries
    per-item facts a metric needs (BBQ: context condition, the biased option)."""

    id: str
    stem: str
    options: tuple[str, ...]
    target: int
    layout: str = "letters"
    contrast: int | None = None
    correct: tuple[int, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = len(self.options)
        if n < 2:
            raise ValueError(f"item {self.id}: needs at least 2 options, has {n}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"item {self.id}: unknown layout {self.layout!r}")
        indices = [self.target, *(self.correct or ()), *(() if self.contrast is None else (self.contrast,))]
        if not all(0 <= i < n for i in indices):
            raise ValueError(f"item {self.id}: target/contrast/correct index out of range")
        if self.contrast == self.target:
            raise ValueError(f"item {self.id}: the contrast answer is the target answer")
        if self.layout != "continuation" and n > len(LETTERS):
            raise ValueError(f"item {self.id}: too many options to letter")

    # ---- rendering ---------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        if self.layout == "letters":
            lines = [f"{LETTERS[k]}. {text}" for k, text in enumerate(self.options)]
            return "\n".join([self.stem, *lines, "Answer:"])
        if self.layout == "parenthesized":
            lines = [f" ({LETTERS[k]}) {text}" for k, text in enumerate(self.options)]
            return "\n".join([f"{self.stem}\n\nChoices:", *lines, "", "Answer:"])
        if self.layout == "instructed":
            lines = [f"{LETTERS[k]}. {text}" for k, text in enumerate(self.options)]
            return "\n".join([INSTRUCTION, self.stem, *lines, "The answer is"])
        return self.stem

    @property
    def continuations(self) -> tuple[str, ...]:
        if self.layout in ("letters", "instructed"):
            return tuple(f" {LETTERS[k]}" for k in range(len(self.options)))
        if self.layout == "parenthesized":
            return tuple(f" ({LETTERS[k]})" for k in range(len(self.options)))
        return tuple(f" {text}" for text in self.options)

    @property
    def question(self) -> str:
        """The stem without the option list, ending where an answer text goes (iPAS's introspective form)."""
        if self.layout == "letters":
            return f"{self.stem}\nAnswer:"
        if self.layout == "instructed":
            return f"{INSTRUCTION}\n{self.stem}\nThe answer is"
        if self.layout == "parenthesized":
            return f"{self.stem}\n\nAnswer:"
        return self.stem

    @property
    def option_texts(self) -> tuple[str, ...]:
        return self.options

    def introspective(self, option: int) -> str:
        return f"{self.question} {self.options[option]}"

    @property
    def others(self) -> list[int]:
        """The options a positive is contrasted with."""
        if self.contrast is not None:
            return [self.contrast]
        return [i for i in range(len(self.options)) if i != self.target and i not in (self.correct or ())]

    # ---- option order --------------------------------------------------------------------------------

    def permuted(self, order: Sequence[int]) -> MCItem:
        """The item with `options[order[k]]` at position k; target, contrast and correct follow their texts."""
        if sorted(order) != list(range(len(self.options))):
            raise ValueError(f"item {self.id}: {list(order)} is not a permutation of its options")
        where = {old: new for new, old in enumerate(order)}
        return replace(
            self,
            options=tuple(self.options[i] for i in order),
            target=where[self.target],
            contrast=None if self.contrast is None else where[self.contrast],
            correct=None if self.correct is None else tuple(sorted(where[i] for i in self.correct)),
        )

    def rotated(self, shift: int) -> MCItem:
        """Every option moved `shift` places down (cyclically). Over shifts 0..n-1 the target sits at each
        position exactly once: the balanced option-order control."""
        n = len(self.options)
        return self.permuted([(k - shift) % n for k in range(n)])

    def in_order(self, order: int, orders: int) -> MCItem:
        """The item as shown in option order `order` of `orders` (see `rotation_shift`)."""
        return self.rotated(rotation_shift(order, orders, len(self.options)))

    def fingerprint(self) -> str:
        parts = [
            self.id,
            self.layout,
            self.stem,
            *self.options,
            str(self.target),
            str(self.contrast),
            str(self.correct),
        ]
        return "\x1f".join(parts)


def rotation_shift(order: int, orders: int, n_options: int) -> int:
    """How far option order `order` of `orders` rotates an item with `n_options` options. The shifts are
    spread evenly over the item's positions: with orders = n every shift is used once (the target sits at
    each position once: balanced); with fewer orders the target visits `orders` evenly spaced positions;
    with more, each shift is used as equally often as the counts allow (exactly when n divides orders)."""
    if not 0 <= order < orders:
        raise ValueError(f"option order {order} is not one of 0..{orders - 1}")
    return (order * n_options) // orders


def distinct_option_orders(items: Sequence[MCItem | GenItem]) -> int:
    """How many different option orders a task's items can be shown in: 1 for generation items and for the
    `continuation` layout (each answer is scored on its own, so order does not exist for the model),
    otherwise the largest option count."""
    counts = [len(i.options) for i in items if isinstance(i, MCItem) and i.layout != "continuation"]
    return max(counts, default=1)


@dataclass(frozen=True)
class GenItem:
    """One generation item: the model writes freely after `prompt`; `reference` is what a grader compares
    against (GSM8K: the final number; refusal: "refuse" or "comply")."""

    id: str
    prompt: str
    reference: str
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def fingerprint(self) -> str:
        return f"{self.id}\x1f{self.prompt}\x1f{self.reference}"


def shuffled_options(
    item_id: str, options: Sequence[str], target: int, seed: str
) -> tuple[tuple[str, ...], int, list[int]]:
    """Options in an order drawn per item (never one permutation for all items: that leaves the answer at
    a constant letter, the flaw METHODS.md describes). Returns (options, target, order)."""
    order = list(range(len(options)))
    random.Random(f"{seed}-{item_id}").shuffle(order)
    return tuple(options[i] for i in order), order.index(target), order


def lettered_item(
    item_id: str, stem: str, options: Sequence[str], target: int, shuffle_seed: str | None = None, **fields: Any
) -> MCItem:
    """An item in the `letters` layout, its options shuffled per item when `shuffle_seed` is given."""
    if shuffle_seed is None:
        return MCItem(item_id, stem.strip(), tuple(options), target, **fields)
    texts, new_target, order = shuffled_options(item_id, options, target, shuffle_seed)
    if fields.get("correct") is not None:
        fields["correct"] = tuple(sorted(order.index(i) for i in fields["correct"]))
    return MCItem(item_id, stem.strip(), texts, new_target, **fields)


def data_hash(items: Sequence[MCItem | GenItem]) -> str:
    """sha256 over the items' content, recorded in vector metadata as the training-data hash."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.fingerprint().encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def hash_split(key: str, salt: str, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> str:
    """A stable split assignment from a hash of `key`: the same item lands in the same split on every
    machine and in every version, whatever else the dataset holds."""
    value = int.from_bytes(hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()[:8], "big") / 2**64
    return _split_at(value, fractions)


def _split_at(value: float, fractions: tuple[float, float, float]) -> str:
    """The split a point in [0, 1) falls in when [0, 1) is cut at the fractions."""
    if value < fractions[0]:
        return "train"
    return "validation" if value < fractions[0] + fractions[1] else "test"


def grouped_split(
    sizes: Mapping[str, int], salt: str, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), tries: int = 200
) -> dict[str, str]:
    """Split assignments for groups of items that must stay together (a question template's variants), close
    to `fractions` of the items even when a few groups are large. Groups are ordered by a salted hash and cut
    at the fractions' boundaries (each group goes where its middle falls); of `tries` salts the one closest
    to the fractions is kept. Deterministic: the same groups give the same splits on every machine."""
    total = sum(sizes.values())
    names = ("train", "validation", "test")
    best: tuple[float, dict[str, str]] | None = None
    for attempt in range(tries):
        order = sorted(sizes, key=lambda k: hashlib.sha256(f"{salt}\x1f{attempt}\x1f{k}".encode()).digest())
        assignment, counts, seen = {}, dict.fromkeys(names, 0), 0
        for key in order:
            split = _split_at((seen + sizes[key] / 2) / total, fractions)  # where the group's middle falls
            assignment[key] = split
            counts[split] += sizes[key]
            seen += sizes[key]
        error = max(abs(counts[n] / total - f) for n, f in zip(names, fractions, strict=True))
        if best is None or error < best[0]:
            best = (error, assignment)
    return best[1] if best else {}
