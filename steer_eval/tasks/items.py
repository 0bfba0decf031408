"""The record every labelled multiple-choice task is reduced to, and the one prompt layout steer-eval uses
for tasks that do not bring their own: context and question, lettered options, then "Answer:"."""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class MCItem:
    """One multiple-choice item.

    `prompt` ends where the answer goes; `continuations[i]` is what the model scores after it for option i
    (" A", " (A)", " good"). `target` is the desired answer for behaviour tasks and the correct one for
    capability tasks. `question` + " " + `option_texts[i]` is the introspective form (question with an
    answer written out, no option list) that iPAS reads. `contrast`, when the data names one, is the
    single opposite answer (CAA's answer_not_matching_behavior); otherwise every other option is one.
    """

    id: str
    prompt: str
    continuations: tuple[str, ...]
    target: int
    question: str
    option_texts: tuple[str, ...]
    contrast: int | None = None

    def __post_init__(self) -> None:
        n = len(self.continuations)
        if n < 2 or len(self.option_texts) != n:
            raise ValueError(f"item {self.id}: needs >= 2 options and one text per option")
        if not 0 <= self.target < n or (self.contrast is not None and not 0 <= self.contrast < n):
            raise ValueError(f"item {self.id}: target/contrast index out of range")
        if self.contrast == self.target:
            raise ValueError(f"item {self.id}: the contrast answer is the target answer")

    @property
    def others(self) -> list[int]:
        """The options a positive is contrasted with."""
        if self.contrast is not None:
            return [self.contrast]
        return [i for i in range(len(self.continuations)) if i != self.target]

    def introspective(self, option: int) -> str:
        return f"{self.question} {self.option_texts[option]}"

    def fingerprint(self) -> str:
        return f"{self.id}\x1f{self.prompt}\x1f{'|'.join(self.continuations)}\x1f{self.target}\x1f{self.contrast}"


def lettered_item(
    item_id: str, stem: str, options: Sequence[str], target: int, shuffle_seed: str | None = None
) -> MCItem:
    """An item in steer-eval's default layout. With `shuffle_seed`, the options are put in an order drawn
    per item (never one permutation for all items: that leaves the answer at a constant letter)."""
    order = list(range(len(options)))
    if shuffle_seed is not None:
        random.Random(f"{shuffle_seed}-{item_id}").shuffle(order)
    texts = tuple(options[i] for i in order)
    lines = [stem.strip(), *(f"{LETTERS[k]}. {text}" for k, text in enumerate(texts)), "Answer:"]
    return MCItem(
        id=item_id,
        prompt="\n".join(lines),
        continuations=tuple(f" {LETTERS[k]}" for k in range(len(texts))),
        target=order.index(target),
        question=f"{stem.strip()}\nAnswer:",
        option_texts=texts,
    )


def data_hash(items: Sequence[MCItem]) -> str:
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
    if value < fractions[0]:
        return "train"
    return "validation" if value < fractions[0] + fractions[1] else "test"
