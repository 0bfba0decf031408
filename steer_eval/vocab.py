"""The shared vocabulary of steering: where a vector acts (sites), how (actions), and at which
token positions. Plain enums, no behaviour, so that vectors/ and steering/ can both name them
without depending on each other. The meaning of each value is documented in docs/steering.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from steer_eval.errors import SteerEvalError


class Site(StrEnum):
    RESID = "resid"  # decoder block output (the residual stream after block L)
    MLP = "mlp"  # output of the block's MLP module
    ATTN = "attn"  # output of the block's attention module (after the output projection)
    HEAD = "head"  # one head's slice of the attention output projection's input


class Action(StrEnum):
    ADD = "add"  # a + alpha * v
    AU_SCALE = "au_scale"  # a + alpha * beta * a   (v holds beta; zero where a unit is not selected)
    CLAMP = "clamp"  # set the component of a along v to alpha
    ABLATE = "ablate"  # remove alpha times the component of a along v (alpha = 1: full ablation)


class PositionMode(StrEnum):
    ALL = "all"  # every token of every forward pass
    PROMPT = "prompt"  # prompt tokens only (few-shot examples included), never decode steps
    LAST_PROMPT = "last_prompt"  # the last prompt token only
    GENERATED = "generated"  # the positions that produce answer tokens (see docs/steering.md)


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: str | E, what: str) -> E:
    """Turn user text into an enum member, or fail with the list of valid values."""
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in enum)
        raise SteerEvalError(f"unknown {what} {value!r}; choose one of: {choices}") from None


# Vector file formats steer-eval reads (`vectors import --from`); `auto` decides by suffix and content.
VECTOR_SOURCES = ("auto", "steer-eval", "lmeval", "caa", "pas", "gguf")
