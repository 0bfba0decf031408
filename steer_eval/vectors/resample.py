"""Stability of a built vector (issue 19): `vectors build --resamples R` builds R further vectors from
bootstrap resamples of the training items (same method, layers and settings; a seeded draw with replacement
per resample), stores them in the same file beside the main vector (which is unchanged: the same tensors, the
same identity), and records how alike they are: each resample's cosine to the main vector and the mean
pairwise cosine at every layer, and, with `--select-on validation`, each resample's chosen layer and strength
and how often that layer is the main vector's. A vector whose direction or chosen layer moves when its
training pairs are resampled is an estimate to be read with care, whatever its test interval says."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import torch

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.items import MCItem
from steer_eval.vectors.format import SiteKey, SteeringVector


def bootstrap(items: list[MCItem], resample: int, seed: int) -> list[MCItem]:
    """A seeded draw of len(items) items with replacement."""
    return random.Random(f"resample-{seed}-{resample}").choices(items, k=len(items))


def build_resamples(
    main: SteeringVector,
    items: list[MCItem],
    count: int,
    seed: int,
    build: Callable[[list[MCItem]], SteeringVector],
    select: Callable[[SteeringVector], dict | None] | None = None,
) -> None:
    """Build `count` resampled vectors with `build`, attach them to `main` and record their agreement (and,
    with `select`, each one's validation choice) in `main.meta.extra['resamples']`."""
    if count < 2:
        raise SteerEvalError(f"--resamples must be at least 2 (got {count}): one resample says nothing about spread")
    resamples = []
    chosen = []
    for r in range(count):
        vector = build(bootstrap(items, r, seed))
        resamples.append(vector.directions)
        if select is not None:
            chosen.append(select(vector))
    main.resamples = resamples
    main.meta.extra["resamples"] = agreement(main.directions, resamples, seed)
    if select is not None:
        main_layer = ((main.meta.extra.get("selection") or {}).get("chosen") or {}).get("layer")
        picks = [c for c in chosen if c]
        main.meta.extra["resamples"]["selected"] = picks
        if picks and main_layer is not None:
            same = sum(c.get("layer") == main_layer for c in picks)
            main.meta.extra["resamples"]["layer_pick_stability"] = same / len(picks)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def agreement(main: dict[SiteKey, torch.Tensor], resamples: list[dict[SiteKey, torch.Tensor]], seed: int) -> dict:
    """Per site key: each resample's cosine to the main vector and the mean pairwise cosine among resamples."""
    per_key: dict[str, Any] = {}
    for key, direction in sorted(main.items()):
        others = [r[key] for r in resamples if key in r]
        if not direction.any():  # a zero direction (nothing read there) has no cosine
            per_key[str(key)] = {"cosine_to_main": [], "pairwise_cosine_mean": None}
            continue
        pairs = [_cosine(a, b) for a, b in itertools.combinations(others, 2)]
        per_key[str(key)] = {
            "cosine_to_main": [_cosine(direction, other) for other in others],
            "pairwise_cosine_mean": sum(pairs) / len(pairs) if pairs else None,
        }
    means = [sum(v["cosine_to_main"]) / len(v["cosine_to_main"]) for v in per_key.values() if v["cosine_to_main"]]
    return {
        "count": len(resamples),
        "seed": seed,
        "method": "bootstrap of the training items",
        "cosine_resample_mean": sum(means) / len(means) if means else None,
        "by_key": per_key,
    }
