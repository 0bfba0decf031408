"""Steering strengths as users give them: finite numbers and the word `selected`, each vector's own
strength chosen on the validation split (`vectors build --select-on validation`). One place, so that
`--alphas`, `--strengths`, a check spec's `alpha:` and lm-eval's `alpha=` refuse the same bad values with
the same message, and `selected` means the same thing in the runner and the gate."""

from __future__ import annotations

import math
from collections.abc import Sequence

from steer_eval.errors import SteerEvalError

SELECTED = "selected"
Strength = float | str  # a number, or SELECTED

HOW_TO_SELECT = "build it with `steer-eval vectors build ... --select-on validation`, or give numeric strengths instead"


def finite_strength(value: object, where: str) -> float:
    """`value` as a float, refusing NaN and infinities: a NaN strength steers nothing sensible and comes
    out of the analysis as a verdict with an empty strength."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SteerEvalError(f"{where} {value!r} is not a number; give a finite strength such as 2 or -0.5") from None
    if not math.isfinite(number):
        raise SteerEvalError(f"{where} {value!r} is not a finite strength; give a finite number such as 2 or -0.5")
    return number


def parse_strengths(text: str | None, option: str, allow_selected: bool = True) -> list[Strength] | None:
    """A comma-separated list of finite numbers (and, where allowed, the word `selected`)."""
    if text is None:
        return None
    example = "-2,selected,4" if allow_selected else "0.5,1,2,4"
    values: list[Strength] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if allow_selected and part.lower() == SELECTED:
            values.append(SELECTED)
            continue
        try:
            float(part)
        except ValueError:
            raise SteerEvalError(f"{option} {text!r}: {part!r} is not a number; give e.g. {example}") from None
        values.append(finite_strength(part, f"{option}:"))  # the user's own text in the message (1e999, not inf)
    if not values:
        raise SteerEvalError(f"{option} is empty; give e.g. {example}")
    return values


def check_strengths(values: Sequence[Strength], option: str) -> None:
    """For strengths that did not come through `parse_strengths` (the Python API)."""
    for value in values:
        if isinstance(value, str):
            if value != SELECTED:
                raise SteerEvalError(f"{option}: {value!r} is neither a number nor {SELECTED!r}")
        else:
            finite_strength(value, f"{option}:")


def no_selection(where: str, asked: str) -> SteerEvalError:
    """The one error for `selected` asked of a vector that recorded no selection."""
    return SteerEvalError(
        f"{where}: {asked} {SELECTED!r} means this vector's validation-selected strength, but the file recorded "
        f"none (built without --select-on, or imported from another tool); {HOW_TO_SELECT}"
    )


def resolve(strengths: Sequence[Strength], selected: float | None, required: bool, where: str) -> list[float]:
    """One vector's numeric strengths for `--alphas`, in the order given and without repeats: `selected`
    becomes the vector's recorded strength. A vector that recorded none is an error when `selected` was
    asked for explicitly (`required`) and is left out when it is only part of the default grid."""
    out: list[float] = []
    for value in strengths:
        if value == SELECTED:
            if selected is None:
                if required:
                    raise no_selection(where, "--alphas")
                continue
            value = selected
        out.append(float(value))
    return list(dict.fromkeys(out))


def describe(strengths: Sequence[Strength]) -> str:
    return ",".join(value if isinstance(value, str) else f"{value:g}" for value in strengths)
