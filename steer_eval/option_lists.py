"""Comma-separated lists users type on the command line and in recipes: layers (`12`, `10,12,14`, `10-14`,
`all`) and finite numbers. One place, so `vectors build`, the runner and recipes refuse the same bad values
with the same message."""

from __future__ import annotations

from steer_eval.errors import SteerEvalError


def parse_layers(text: str | None) -> list[int] | None:
    if text is None or text.strip().lower() == "all":
        return None
    layers: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                low, high = part.split("-", 1)
                layers += range(int(low), int(high) + 1)
            elif part:
                layers.append(int(part))
    except ValueError:
        raise SteerEvalError(f"--layers {text!r}: use '12', '10,12,14', '10-14' or 'all'") from None
    if not layers or min(layers) < 0:
        raise SteerEvalError(f"--layers {text!r}: layers are non-negative integers")
    return layers


def parse_floats(text: str | None, option: str) -> list[float] | None:
    """Comma-separated finite numbers (NaN and infinities are refused: they are no strength)."""
    from steer_eval.strengths import parse_strengths

    values = parse_strengths(text, option, allow_selected=False)
    return None if values is None else [float(v) for v in values]
