"""Rival arms: getting the behaviour without a vector, judged exactly like vectors. AxBench (Wu et al. 2025)
found plain prompting beating every representation-steering method on free text, so the question a user asks
first is whether a vector beats just asking the model.

- `prompt:NAME`: an instruction prepended to every prompt (lm-eval's task `description`, the system message
  under a chat template): declared per behaviour task in the registry (`--prompt-arm declared`) or given as
  `--prompt-arm NAME=TEXT`;
- `fewshot:K`: K demonstrations of the behaviour from the task's train split before each prompt;
- `VECTOR+prompt:NAME`: the vector at each strength with the instruction in place.

Each arm cell is paired with the task's plain, unsteered baseline, item by item."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from steer_eval.errors import SteerEvalError

DECLARED = "declared"  # --prompt-arm declared: each task's own instruction(s) from the registry
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ArmRef:
    kind: str  # "prompt" or "fewshot"
    name: str  # a prompt's name; for few-shot, the number of demonstrations
    text: str = ""  # the instruction (prompt arms)
    shots: int = 0  # demonstrations (few-shot arms)

    @property
    def label(self) -> str:
        return f"prompt:{self.name}" if self.kind == "prompt" else f"fewshot:{self.shots}"

    def identity(self) -> dict:
        return asdict(self)


def parse_prompt_arms(values: Sequence[str] | None) -> list[tuple[str, str]]:
    """`NAME=TEXT` pairs (and `declared`) as given on the command line, checked."""
    out: list[tuple[str, str]] = []
    for value in values or []:
        if value.strip() == DECLARED:
            out.append((DECLARED, ""))
            continue
        name, sep, text = value.partition("=")
        if not sep or not _NAME.match(name.strip()) or not text.strip():
            raise SteerEvalError(
                f"--prompt-arm {value!r} is not NAME=TEXT (a name of letters, digits, '_', '-', '.', then the "
                "instruction), e.g. --prompt-arm 'kind=Answer as kindly as you can.', or 'declared' for each "
                "task's own instruction"
            )
        out.append((name.strip(), text.strip()))
    names = [name for name, _ in out]
    if len(names) != len(set(names)):
        raise SteerEvalError("two --prompt-arm values have the same name; give each its own")
    return out


def task_arms(
    declared: Sequence[tuple[str, str]], prompts: Sequence[tuple[str, str]], shots: Sequence[int], task: str = ""
) -> list[ArmRef]:
    """The arms one task runs: the asked-for prompts (`declared` expands to the task's own), then few-shot."""
    arms: list[ArmRef] = []
    for name, text in prompts:
        pairs = declared if name == DECLARED else [(name, text)]
        arms += [ArmRef("prompt", n, t) for n, t in pairs]
    arms += [ArmRef("fewshot", str(k), shots=k) for k in shots]
    arms = list(dict.fromkeys(arms))
    labels = [arm.label for arm in arms]
    for arm in arms:
        if labels.count(arm.label) > 1:  # two instructions under one name: their cells could not be told apart
            raise SteerEvalError(
                f"--prompt-arm {arm.name}=...: {task or 'a task'} declares an instruction of that name too, which "
                f"--prompt-arm declared adds; give yours another name"
            )
    return arms


def check_fewshot_arms(shots: Sequence[int]) -> None:
    if any(k < 1 for k in shots):
        raise SteerEvalError("--fewshot-arm needs a number of demonstrations of at least 1, e.g. --fewshot-arm 3")
