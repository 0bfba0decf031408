"""What makes two items the same question, whatever task or source they come from: one normalised key per
item, used to split tasks that share questions (the same question lands in the same split in every task)
and, hashed, to measure how many of a run's evaluated items a vector was trained on.

The key is computed from what lm-eval shows the model, a rendered prompt and its answer choices, so that a
user's own lm-eval task can be keyed the same way as the registry's items:

- option lines ("(A) text", " (A) text", "A. text", "A) text") are taken out of the prompt; their texts are
  the options (otherwise the choices are, unless they are bare answer letters);
- the answer letters, the "Choices:" heading and the leading / trailing prompt labels ("Question:", "Q:",
  "Instruction:", ... "Answer:", "Response:") are dropped;
- text is NFKC-normalised, case-folded and its whitespace collapsed; options are sorted (an option-order
  rotation or another source's order is the same question);
- a user persona written in front of a question ("Hello, my name is ... I believe ... <question>", as in
  Anthropic's sycophancy evals and CAA's set built from them) is not part of the question: only its last
  sentence is kept, so one question asked by a thousand personas is one question.

Options stay in the key: some tasks ask one fixed question about different options (ETHICS
utilitarianism: "Which of these two situations is more pleasant?"), and without them every item would be
the same question."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from steer_eval.tasks.items import GenItem, MCItem, hash_split

# One salt for every task split by question content: a question gets the same split in every task that has it.
# Of the 200 salts "steer-eval-question-0" .. "-199", the one whose splits come closest to 60/20/20 in every task
# that uses it (on the files of SOURCES.md: no task more than 3.4 points off; hashing whole questions cannot do
# much better, as a task has a few hundred questions, and CAA's sycophancy set only 49). A constant: changing it
# moves every such question.
SHARED_SALT = "steer-eval-question-141"
HASH_CHARS = 16  # 64 bits: collisions are negligible for the largest task (about 25,000 items)

_OPTION_LINE = re.compile(r"^\s*(?:\(([A-Z])\)|([A-Z])[.)])\s+(\S.*)$")
_BARE_LETTER = re.compile(r"^\(?[A-Z]\)?$")
_LEADING_LABEL = re.compile(r"^(?:question|q|instruction|input)\s*:\s*", re.IGNORECASE)
_TRAILING_LABEL = re.compile(r"\s*(?:answer|a|response|output|choices)\s*:\s*$", re.IGNORECASE)
_PERSONA = re.compile(r"^(?:hello|hi),? my name is ")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _question(lines: Sequence[str]) -> str:
    text = _normal("\n".join(lines))
    while True:  # "...\n\nChoices:\n\nAnswer:" loses both labels once the option lines are gone
        shorter = _TRAILING_LABEL.sub("", text)
        if shorter == text:
            break
        text = shorter
    text = _LEADING_LABEL.sub("", text)
    if _PERSONA.match(text):
        sentences = [s for s in _SENTENCE_END.split(text) if s]
        text = sentences[-1] if sentences else text
    return text


def question_key(prompt: str, choices: Sequence[str] = ()) -> str:
    """The normalised question of a rendered prompt and its answer choices (module docstring)."""
    stem, options = [], []
    for line in str(prompt).splitlines():
        match = _OPTION_LINE.match(line)
        if match:
            options.append(match.group(3))
        else:
            stem.append(line)
    if not options:
        texts = [str(c) for c in choices]
        if not all(_BARE_LETTER.match(t.strip()) for t in texts):
            options = texts
    return "\x1f".join([_question(stem), *sorted(_normal(o) for o in options)])


def question_hash(prompt: str, choices: Sequence[str] = ()) -> str:
    """A short hash of `question_key`: what a vector records of its training items and a run of its items."""
    return hashlib.sha256(question_key(prompt, choices).encode()).hexdigest()[:HASH_CHARS]


def item_question_key(item: MCItem | GenItem) -> str:
    """An item's key, from its prompt and choices as lm-eval shows them (so a run keys the item the same)."""
    if isinstance(item, MCItem):
        return question_key(item.prompt, item.continuations)
    return question_key(item.prompt)


def item_question_hash(item: MCItem | GenItem) -> str:
    if isinstance(item, MCItem):
        return question_hash(item.prompt, item.continuations)
    return question_hash(item.prompt)


def question_split(item: MCItem | GenItem, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> str:
    """The split of an item in a task split by question content: a function of its normalised question and
    the one shared salt only, so every task holding the question puts it in the same split."""
    return hash_split(item_question_key(item), SHARED_SALT, fractions)


def without_test_questions(splits: dict[str, list]) -> dict[str, list]:
    """The splits less the train and validation copies of questions the test split also holds. Some authors'
    splits repeat a question (MMLU's val and test, ARC-Easy's train and test, ETHICS utilitarianism's train and
    test files, refusal's harmful train and test): the test split stays as published, the copies go."""
    tested = {item_question_key(item) for item in splits.get("test", [])}
    if not tested:
        return splits
    return {
        split: items if split == "test" else [item for item in items if item_question_key(item) not in tested]
        for split, items in splits.items()
    }
