"""From vector files to checked interventions for one model: read (any supported format), resolve lm-eval
hookpoints against the model's own modules, check the fit, and apply strength/position overrides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.steering.interventions import Intervention, interventions_from_vector
from steer_eval.steering.model_map import ModelMap
from steer_eval.strengths import finite_strength
from steer_eval.vectors.files import read_vector_file
from steer_eval.vectors.format import SteeringVector
from steer_eval.vocab import PositionMode, parse_enum


def split_paths(value: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """Vector paths from a list or from one string separated by ';' (lm-eval model_args split on ',')."""
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [Path(part.strip()) for part in str(value).split(";") if part.strip()]
    return [Path(item) for item in value]


def read_for_model(path: str | Path, model_map: ModelMap) -> SteeringVector:
    vector = read_vector_file(path, resolve_hookpoint=model_map.key_for_hookpoint)
    model_map.check_fits(vector, str(path))
    return vector


def load_interventions(
    paths: str | Path | Sequence[str | Path] | None,
    model_map: ModelMap,
    alpha: float | None = None,
    positions: str | PositionMode | None = None,
    layer: int | None = None,
) -> list[Intervention]:
    """Interventions for every applied tensor of every file (per-layer vectors: their default layer, or
    `layer`), in file order then site order."""
    mode = None if positions is None else parse_enum(PositionMode, positions, "position mode")
    if alpha is not None:
        alpha = finite_strength(alpha, "alpha")
    interventions: list[Intervention] = []
    for path in split_paths(paths):
        vector = read_for_model(path, model_map)
        vector.check_applies(str(path), layer)  # an all-zero vector would steer nothing, silently
        try:
            interventions += interventions_from_vector(
                vector, alpha=alpha, positions=mode, label=Path(path).name, layer=layer
            )
        except SteerEvalError as exc:
            raise SteerEvalError(f"{path}: {exc}") from None
    return interventions
