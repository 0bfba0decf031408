"""Methods as recipes (issue 20): `--vectors caa:TASK` (or `ipasa:TASK`, `austeer:TASK:top_k=50`, ...) instead
of a file. A recipe is built for the run's model with `vectors build`'s machinery, its layer and strength
chosen on the task's validation split, and cached in the run folder under a name keyed by (model, revision,
recipe, the train and validation data, the prompt format), so a re-run, or a run of the same recipe on the
same model, reuses the file. The recipe text is the vector's label, so the same recipe on several models
lines up in `steer-eval compare`.

Form: METHOD:TASK[:KEY=VALUE[:KEY=VALUE]...], with KEY one of layers (`1-3`, `2,4`, `all`), site, top_k,
max_items, seed, batch_size and strengths (the selection grid, `0.5,1,2`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.prompt_format import PromptFormat
from steer_eval.tasks.items import data_hash
from steer_eval.tasks.registry import load_split
from steer_eval.vectors.methods import METHODS

OPTIONS = ("layers", "site", "top_k", "max_items", "seed", "batch_size", "strengths")


@dataclass(frozen=True)
class Recipe:
    text: str  # as given: the vector's label
    method: str
    task: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def file_stem(self) -> str:
        return self.text.replace(":", "-").replace("=", "").replace(",", "_")


def parse_recipe(text: str) -> Recipe | None:
    """The recipe `text` names, or None when it is not one (a file path). An existing file is never a recipe."""
    if Path(text).exists() or ":" not in text or "/" in text:
        return None
    method, task, *options = text.split(":")
    if method not in METHODS:
        known = ", ".join(METHODS)
        raise SteerEvalError(
            f"--vectors {text}: no such file, and not a recipe: {method!r} is not a method (recipes are "
            f"METHOD:TASK with METHOD one of {known})"
        )
    pairs = []
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in OPTIONS or not value:
            raise SteerEvalError(
                f"--vectors {text}: {option!r} is not a recipe option; write KEY=VALUE with KEY one of "
                f"{', '.join(OPTIONS)} (e.g. caa:{task}:layers=1-3)"
            )
        pairs.append((key, value))
    if not task:
        raise SteerEvalError(f"--vectors {text}: a recipe names its task, e.g. {method}:demo_sentiment")
    return Recipe(text, method, task, tuple(pairs))


def build_recipe(
    recipe: Recipe,
    model: str,
    revision: str | None,
    folder: Path,
    data_dir: str | None = None,
    prompt_format: PromptFormat | None = None,
    device: str = "auto",
    dtype: str = "auto",
    progress: bool = True,
    model_args: dict | None = None,
) -> Path:
    """The recipe's vector file for `model`: from the cache when it is there, else built and selected."""
    from steer_eval.option_lists import parse_floats, parse_layers
    from steer_eval.vectors.build import BuildSpec
    from steer_eval.vectors.make import BuildRequest, run_build
    from steer_eval.vectors.select import DEFAULT_STRENGTHS
    from steer_eval.vocab import Site

    prompt_format = prompt_format or PromptFormat()
    options = dict(recipe.options)
    splits = {}
    for split in ("train", "validation"):
        try:
            splits[split] = load_split(recipe.task, split, data_dir)
        except SteerEvalError as exc:
            if split == "train":
                raise SteerEvalError(
                    f"recipe {recipe.text}: {exc}; a recipe is built from the task's train split"
                ) from None
    identity = {
        "model": model, "revision": revision, "recipe": recipe.text, "prompt_format": prompt_format.describe(),
        "data": {split: data_hash(items) for split, items in splits.items()},
    }  # fmt: skip
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    path = folder / f"{recipe.file_stem}-{key}.safetensors"
    if path.is_file():
        return path
    try:
        spec = BuildSpec(
            method=recipe.method,
            task=recipe.task,
            layers=parse_layers(options.get("layers")),
            site=Site(options.get("site", "resid")),
            top_k=int(options.get("top_k", 20)),
            max_items=int(options["max_items"]) if "max_items" in options else None,
            seed=int(options.get("seed", 0)),
            batch_size=int(options.get("batch_size", 16)),
            prompt_format=prompt_format,
        )
    except ValueError as exc:
        raise SteerEvalError(f"recipe {recipe.text}: {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    request = BuildRequest(
        spec=spec,
        output=path,
        model=model,
        revision=revision,
        data_dir=data_dir,
        select_on="validation" if splits.get("validation") else None,
        strengths=parse_floats(options.get("strengths"), f"recipe {recipe.text} strengths") or list(DEFAULT_STRENGTHS),
        device=device,
        dtype=dtype,
        progress=progress,
        model_args=dict(model_args or {}),  # loaded as the run loads it (a device map, offload); not in the key
    )
    run_build(request)
    return path
