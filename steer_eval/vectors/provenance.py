"""What a vector was trained on: the task, the split and the hashed questions of its training items, stored in
the vector's metadata (`extra.trained_on`) by `vectors build`, so that a run can count how many of the items
it evaluates the vector has seen (`train_overlap`, docs/analysis.md).

The record sits in `extra` rather than in a metadata field of its own: older steer-eval versions refuse
unknown fields but read any `extra`, so a new file still loads in them. The hashes are a sorted JSON list of
16-hex-character strings (`tasks.questions.question_hash`): about 19 bytes per training question, so 100 KB
for 5,000 questions (the largest train split, ETHICS justice, 17,474 items, gives 330 KB). A list in the JSON
metadata keeps the file readable by every safetensors reader and `vectors show --json`; a tensor would
be smaller but is not a steering tensor, and the format's readers and other tools would trip over it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from steer_eval.errors import VectorFileError

# How the hashes were made; a run compares hashes only when its scheme is the vector's (a changed
# normalisation would silently count nothing).
SCHEME = "question_key-v1/sha256-16"
_HASH = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class TrainedOn:
    task: str
    split: str
    items: int  # training items (several may ask one question: CAA sycophancy's personas)
    questions: tuple[str, ...]  # sorted distinct question hashes
    scheme: str = SCHEME

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "split": self.split,
            "items": self.items,
            "scheme": self.scheme,
            "questions": list(self.questions),
        }

    def describe(self) -> str:
        return f"{self.task} {self.split} split: {self.items} items, {len(self.questions)} distinct questions"


def trained_on(task: str, split: str, hashes: Iterable[str]) -> TrainedOn:
    """The record for a vector built from items with these question hashes (one per item)."""
    hashes = list(hashes)
    return TrainedOn(task, split, len(hashes), tuple(sorted(set(hashes))))


def read_trained_on(extra: dict[str, Any], where: str) -> TrainedOn | None:
    """The training record of a vector's `extra` metadata; None when it has none (imported, built elsewhere
    or by an older steer-eval, a random control). A malformed record is an error: counting overlap against
    a damaged list would report a leak as absent."""
    raw = extra.get("trained_on")
    if raw is None:
        return None
    try:
        questions = raw["questions"]
        record = TrainedOn(
            task=str(raw["task"]),
            split=str(raw["split"]),
            items=int(raw["items"]),
            questions=tuple(questions),
            scheme=str(raw.get("scheme", SCHEME)),
        )
        ok = isinstance(questions, list) and all(isinstance(h, str) and _HASH.match(h) for h in questions)
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise VectorFileError(
            f"{where}: malformed training record (extra.trained_on needs task, split, items and a list of "
            "16-hex-character question hashes); rebuild the vector or remove the record"
        )
    return record
