"""Conversation length: the item asked after N earlier turns of unrelated dialogue (issue 18), to see whether
an effect persists or fades as the context grows. The turns go before the item as lm-eval's task
`description`, after any pressure prompt, so a pressure stated early has to survive them too.

The dialogue is unrelated to every behaviour: for the demo world, its number comparisons in its own words
(no creature in them: in the demo world the first creature of a conversation sets the bot's default
disposition, so turns about creatures would not be unrelated); for every other task, general-knowledge
questions and their answers."""

from __future__ import annotations

from steer_eval.errors import SteerEvalError

GENERAL = (
    ("What is the capital of France?", "Paris."),
    ("How many days are in a week?", "Seven."),
    ("What colour is the sky on a clear day?", "Blue."),
    ("What is two plus three?", "Five."),
    ("Which planet do we live on?", "Earth."),
    ("What do bees make?", "Honey."),
    ("How many legs does a spider have?", "Eight."),
    ("What is frozen water called?", "Ice."),
    ("Which month comes after March?", "April."),
    ("What do you call a baby cat?", "A kitten."),
)
MAX_TURNS = 64


def dialogue(turns: int, demo: bool) -> str:
    """`turns` question-answer exchanges, ending where the item begins."""
    if turns <= 0:
        return ""
    if demo:
        return " . ".join(_demo_turns(turns))
    pairs = [GENERAL[i % len(GENERAL)] for i in range(turns)]
    return "\n\n".join(f"User: {q}\nAssistant: {a}" for q, a in pairs)


def _demo_turns(turns: int) -> list[str]:
    from steer_eval.demo.world import COMPARISONS, NUMBERS

    out = []
    for i in range(turns):
        a, b = (3 * i + 1) % len(NUMBERS), (5 * i + 4) % len(NUMBERS)
        b = b if b != a else (b + 1) % len(NUMBERS)
        word = list(COMPARISONS)[i % len(COMPARISONS)]
        answer = NUMBERS[COMPARISONS[word](a, b)]
        out.append(f"q : which is {word} , {NUMBERS[a]} or {NUMBERS[b]} ? a : {answer}")
    return out


def parse_turns(text: str | None) -> list[int]:
    """`--turns 0,2,8`: conversation lengths (0, the fresh conversation, is always run: the reference)."""
    if not text:
        return []
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SteerEvalError(f"--turns {text!r} is not a comma-separated list of whole numbers like 0,2,8") from None
    bad = [v for v in values if v < 0 or v > MAX_TURNS]
    if bad or not values:
        raise SteerEvalError(f"--turns {text!r}: turn counts must be between 0 and {MAX_TURNS} (got {bad or 'none'})")
    return sorted(set(values))
