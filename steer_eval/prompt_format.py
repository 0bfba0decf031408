"""How prompts are shown to the model: plain text (the default), or through the tokenizer's chat template
(instruct models), with an optional system instruction. One setting for a run (lm-eval's
`--apply_chat_template` / `--system_instruction`, which steer-eval passes on), for building a vector and for
choosing its strength, so a vector is read and judged on prompts shown the same way; the format is part of
every cell's key and recorded in every vector built, and a run warns when a vector was built one way and is
used the other."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.items import MCItem

PLAIN_DELIMITER = "\n\n"  # between a system instruction and the prompt when there is no chat template


@dataclass(frozen=True)
class PromptFormat:
    chat_template: bool = False
    system_instruction: str | None = None

    @property
    def plain(self) -> bool:
        return not self.chat_template and not self.system_instruction

    @property
    def lmeval_system_instruction(self) -> str | None:
        """The system instruction as lm-eval is given it: without a chat template lm-eval puts it straight
        before the prompt, so it carries the blank line `render` puts there (else the two run together,
        "mood : happyuser : ...", and runs see other prompts than vector building did)."""
        if self.system_instruction and not self.chat_template:
            return self.system_instruction + PLAIN_DELIMITER
        return self.system_instruction

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Any) -> PromptFormat | None:
        """The format a vector file records (None: it records none, e.g. imported from another tool)."""
        if not isinstance(record, dict):
            return None
        return cls(bool(record.get("chat_template")), record.get("system_instruction") or None)

    def words(self) -> str:
        shown = "the chat template" if self.chat_template else "plain prompts"
        return shown + (f" with the system instruction {self.system_instruction!r}" if self.system_instruction else "")

    def check(self, tokenizer) -> None:
        if self.chat_template and not getattr(tokenizer, "chat_template", None):
            raise SteerEvalError(
                "--apply-chat-template: this model's tokenizer has no chat template (a base model?); run without it"
            )

    def render(self, tokenizer, prompt: str) -> str:
        """`prompt` as the model sees it: the user turn of a chat ready for the assistant's answer, or plain."""
        if not self.chat_template:
            return f"{self.system_instruction}{PLAIN_DELIMITER}{prompt}" if self.system_instruction else prompt
        messages = [{"role": "system", "content": self.system_instruction}] if self.system_instruction else []
        messages.append({"role": "user", "content": prompt})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def items(self, items: list[MCItem], tokenizer) -> list[MCItem]:
        """The items with their prompts (and introspective questions) shown in this format."""
        if self.plain:
            return items
        self.check(tokenizer)
        return [
            ShownItem(**_fields(item), shown_prompt=self.render(tokenizer, item.prompt),
                      shown_question=self.render(tokenizer, item.question))
            for item in items
        ]  # fmt: skip


def _fields(item: MCItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in MCItem.__dataclass_fields__}


@dataclass(frozen=True)
class ShownItem(MCItem):
    """An item whose prompt is shown formatted (a chat turn); options, target and answer texts are the item's."""

    shown_prompt: str = field(default="", compare=False)
    shown_question: str = field(default="", compare=False)

    @property
    def prompt(self) -> str:
        return self.shown_prompt

    @property
    def question(self) -> str:
        return self.shown_question
