"""The work behind `steer-eval vectors build`: load the model and the task's train split, build the
vector (or its random control), optionally choose layer and strength on the validation split, save."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.models import load_model, model_path
from steer_eval.steering.model_map import ModelMap
from steer_eval.tasks.items import MCItem
from steer_eval.tasks.registry import get_task, load_split
from steer_eval.vectors.build import BuildSpec, build_vector, prepare_items, read_keys
from steer_eval.vectors.control import random_like
from steer_eval.vectors.files import read_vector_file
from steer_eval.vectors.format import SteeringVector, save_vector
from steer_eval.vectors.methods import RANDOM, get_method
from steer_eval.vectors.resample import build_resamples
from steer_eval.vectors.select import DEFAULT_STRENGTHS, select_on_validation
from steer_eval.vocab import PositionMode


@dataclass
class BuildRequest:
    spec: BuildSpec
    output: Path
    model: str | None = None
    revision: str | None = None
    data_dir: str | None = None
    like: Path | None = None  # random: the vector to imitate
    select_on: str | None = None
    strengths: Sequence[float] = field(default_factory=lambda: list(DEFAULT_STRENGTHS))
    positions: PositionMode | None = None
    device: str = "auto"
    dtype: str = "auto"
    progress: bool = True
    model_args: dict = field(default_factory=dict)  # lm-eval's model args, as a run loads the model (models.placement)
    resamples: int = 0  # bootstrap resamples of the training items stored with the vector (vectors/resample.py)


def run_build(request: BuildRequest) -> SteeringVector:
    spec = request.spec
    if spec.method == RANDOM:
        return _random(request)
    if request.model is None or spec.task is None:
        raise SteerEvalError(f"method {spec.method} needs --model and --task")
    if request.resamples and request.resamples < 2:
        raise SteerEvalError(f"--resamples must be at least 2 (got {request.resamples}); leave it out for none")
    if request.select_on not in (None, "validation"):
        raise SteerEvalError(
            f"--select-on {request.select_on}: only 'validation' is allowed (selecting on test data inflates effects)"
        )
    # Everything that can be checked without the weights is checked before loading them.
    task = get_task(spec.task)
    method = get_method(spec.method)
    train = load_split(spec.task, "train", request.data_dir)
    if train and not isinstance(train[0], MCItem):
        raise SteerEvalError(
            f"task {spec.task} is a generation task; vectors are built from labelled multiple-choice items "
            "(`steer-eval tasks` lists them: any task not of the generation layout)"
        )
    validation = load_split(spec.task, "validation", request.data_dir) if request.select_on else None
    read_keys(ModelMap.from_config_only(model_path(request.model), revision=request.revision), method, spec)
    loaded = load_model(
        request.model, request.revision, request.device, request.dtype, request.progress, request.model_args
    )
    spec.prompt_format.check(loaded.tokenizer)
    vector = build_vector(
        loaded.model, loaded.tokenizer, spec, train, request.model, request.revision, progress=request.progress
    )
    if request.positions is not None:
        vector.meta.positions = request.positions
    shown_validation = spec.prompt_format.items(validation, loaded.tokenizer) if validation is not None else None

    def select(built: SteeringVector) -> dict | None:
        if shown_validation is None:  # chosen on prompts shown as the vector was read on them
            return None
        record = select_on_validation(
            loaded.model,
            loaded.tokenizer,
            built,
            shown_validation,
            request.strengths,
            spec.batch_size,
            request.progress,
            spec.add_special_tokens and spec.prompt_format.plain,
            target_is_desired=task.target_is_desired is not False,
        )
        return (record or {}).get("chosen")

    select(vector)
    if request.resamples:
        used = prepare_items(train, spec)  # the items the main vector was built from, resampled
        again = replace(spec, max_items=None)

        def build(items: list[MCItem]) -> SteeringVector:
            return build_vector(loaded.model, loaded.tokenizer, again, items, request.model, request.revision)

        build_resamples(vector, used, request.resamples, spec.seed, build, select if validation is not None else None)
    save_vector(vector, request.output)
    return vector


def _random(request: BuildRequest) -> SteeringVector:
    if request.like is None:
        raise SteerEvalError("method random needs --like FILE: the vector whose per-layer norms it copies")
    reference = read_vector_file(request.like)
    vector = random_like(reference, request.spec.seed, source=str(request.like))
    if request.model is not None:
        model_map = ModelMap.from_config_only(model_path(request.model), revision=request.revision)
        model_map.check_fits(vector, str(request.like))
    save_vector(vector, request.output)
    return vector
