"""Conditions a cell is measured under besides few-shot and option order (issue 18: where a result holds):
the prompt template, a pressure prompt pushing against the behaviour, and earlier turns of unrelated dialogue.

A `Condition` is part of a cell's key and is paired with its own unsteered baseline under the same condition.
The grid varies one factor at a time from the default (template 0, no pressure, no earlier turns), so each
level is compared with the same default cells; see docs/running.md."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    template: int = 0  # the task's declared prompt template (0: its own format)
    pressure: str | None = None  # a declared pressure prompt's name (conditions/pressure.py)
    turns: int = 0  # earlier turns of unrelated dialogue before the item (conditions/turns.py)

    @property
    def is_default(self) -> bool:
        return self == DEFAULT

    @property
    def label(self) -> str:
        """'' for the default; otherwise the one factor that differs, e.g. 'template=1', 'pressure=opposite'."""
        parts = []
        if self.template:
            parts.append(f"template={self.template}")
        if self.pressure:
            parts.append(f"pressure={self.pressure}")
        if self.turns:
            parts.append(f"turns={self.turns}")
        return ",".join(parts)

    def identity(self) -> dict:
        """What enters a cell key: only what differs from the default (keys of earlier runs hold)."""
        return {k: v for k, v in (("template", self.template), ("pressure", self.pressure),
                                  ("turns", self.turns)) if v}  # fmt: skip

    @classmethod
    def from_record(cls, cell: dict) -> Condition:
        return cls(int(cell.get("template") or 0), cell.get("pressure") or None, int(cell.get("turns") or 0))


DEFAULT = Condition()
FACTORS = ("template", "pressure", "turns")
