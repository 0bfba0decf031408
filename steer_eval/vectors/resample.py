"""Stability of a built vector (issue 19): `vectors build --resamples R` builds R further vectors from
bootstrap resamples of the training items (same method, layers and settings; a seeded draw with replacement
per resample), stores them in the same file beside the main vector (which is unchanged: the same tensors, the
same identity), and records how alike they are: each resample's cosine to the main vector and the mean
pairwise cosine at every layer, and, with `--select-on validation`, each resample's chosen layer and strength
and how often that layer is the main vector's. A vector whose direction or chosen layer moves when its
training pairs are resampled is an estimate to be read with care, whatever its test interval says.

The same machinery gives sample-size guidance (`sample_size_curve`): vectors built from seeded subsets of
8, 16, 32, ... of the training items (without replacement, SIZE_DRAWS each), and their cosine to the
full-data vector where it acts (its chosen layer). The direction has settled at the smallest size from which
every larger one keeps a mean cosine of at least SETTLED. A subset is part of the full data, so the cosine
tends to 1 as the size nears it by construction: read the curve where the size is well below the total.
Costs about SIZE_DRAWS more builds."""

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
    main.meta.extra["resamples"]["sample_size"] = sample_size_curve(main, items, seed, build)
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


SIZE_DRAWS = 3  # subsets per size
SETTLED = 0.9  # mean cosine to the full-data vector from which the direction counts as settled
SMALLEST = 8


def subset_sizes(total: int) -> list[int]:
    """8, 16, 32, ... below `total` (at most half of it, so every subset leaves out at least half)."""
    sizes, size = [], SMALLEST
    while size <= total // 2:
        sizes.append(size)
        size *= 2
    return sizes


def sample_size_curve(
    main: SteeringVector, items: list[MCItem], seed: int, build: Callable[[list[MCItem]], SteeringVector]
) -> dict[str, Any]:
    """Cosine to the full-data vector of vectors built from subsets of the training items, per subset size."""
    keys = _acting_keys(main)
    sizes = subset_sizes(len(items))
    cosines = []
    for size in sizes:
        draws = []
        for draw in range(SIZE_DRAWS):
            subset = random.Random(f"size-{seed}-{size}-{draw}").sample(items, size)
            built = build(subset).directions
            values = [_cosine(main.directions[k], built[k]) for k in keys if k in built]
            draws.append(sum(values) / len(values) if values else None)
        cosines.append(draws)
    means = [_mean(d) for d in cosines]
    settled = None
    for index in range(len(sizes) - 1, -1, -1):  # the smallest size from which every larger one stays above
        if means[index] is None or means[index] < SETTLED:
            break
        settled = sizes[index]
    return {
        "sizes": sizes,
        "total": len(items),
        "cosine_to_full": cosines,
        "cosine_to_full_mean": means,
        "keys": [str(k) for k in keys],
        "settled_at": settled,
        "threshold": SETTLED,
    }


def _acting_keys(vector: SteeringVector) -> list[SiteKey]:
    """Where the vector acts when applied: its chosen layer's tensors (per-layer vectors), else all with a direction."""
    keys = [k for k, t in sorted(vector.directions.items()) if t.any()]
    if vector.meta.per_layer and vector.meta.default_layer is not None:
        keys = [k for k in keys if k.layer == vector.meta.default_layer] or keys
    return keys


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
