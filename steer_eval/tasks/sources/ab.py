"""Anthropic-style A/B(/C...) items, as in CAA's sets and Anthropic's model-written evals: a question with
its options written in as "(A) text" lines, and `answer_matching_behavior` naming the option that shows
the behaviour. Parsed into stem + options so the option order can be permuted and re-rendered."""

from __future__ import annotations

import re

from steer_eval.tasks.items import MCItem

_OPTION = re.compile(r"^\s*\(([A-Z])\)\s*(.*)$")


def _letter(answer: str | list) -> str:
    answer = answer[0] if isinstance(answer, list) else answer
    return answer.strip().strip("()").strip()


def parse_ab(item_id: str, record: dict) -> MCItem:
    """Target = the option matching the behaviour; contrast = the one named as not matching it."""
    options: dict[str, str] = {}
    stem_lines: list[str] = []
    last = None
    for line in record["question"].splitlines():
        match = _OPTION.match(line)
        if match:
            last = match.group(1)
            options[last] = match.group(2).strip()
        elif last is not None and line.strip() and not line.strip().startswith("Answer:"):
            options[last] += " " + line.strip()  # an option text that runs over several lines
        elif not options:
            stem_lines.append(line)
    letters = sorted(options)
    if letters != [chr(ord("A") + k) for k in range(len(letters))] or len(letters) < 2:
        raise ValueError(f"{item_id}: options {letters} are not A, B, ... in order")
    matching, other = _letter(record["answer_matching_behavior"]), _letter(record["answer_not_matching_behavior"])
    if matching not in options or other not in options:
        raise ValueError(f"{item_id}: answers ({matching}) / ({other}) are not among the options {letters}")
    stem = "\n".join(stem_lines).strip().removeprefix("Question:").strip().removesuffix("Choices:").strip()
    return MCItem(
        id=item_id,
        stem=stem,
        options=tuple(options[letter] for letter in letters),
        target=letters.index(matching),
        layout="parenthesized",
        contrast=letters.index(other),
    )
