"""The demo's planted pairs (issue 19), written by `steer-eval demo` beside its vectors for the pair study
(`--combine`, docs/demo.md "Pairs"): the world's mood push split in two halves, each along two of the four
mood directions. Training made the model answer to what *all* of a disposition's directions agree on (moves
that disagree change nothing, training.py), so each half alone moves the mood little and the two together,
which are the whole push, move it fully: a **planted interacting pair** (more than additive). The world's
mood and style pushes act on orthogonal directions that carry different dispositions: on the mood task the
style push does nothing, with the mood push on or off, a **planted additive pair**."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from steer_eval.demo.model import DemoRecipe, planted_directions
from steer_eval.demo.run import PLANTED_UNIT, planted_vector
from steer_eval.vectors.format import SiteKey, SteeringVector, save_vector
from steer_eval.vocab import Site

HALVES = {"a": (0, 1), "b": (2, 3)}  # which of the mood's planted directions each half pushes


def planted_half(half: str, recipe: DemoRecipe) -> SteeringVector:
    """Half `half` of the planted mood push: PLANTED_UNIT scales along two of its directions at strength 1."""
    whole = planted_vector("mood", recipe)
    layer = recipe.planted_layers[0]
    directions = planted_directions(recipe)["mood"][list(HALVES[half])]
    push = directions.sum(dim=0) * PLANTED_UNIT * recipe.planted_scale
    meta = dataclasses.replace(
        whole.meta,
        read_site=f"two of the demo model's four planted mood directions ({', '.join(map(str, HALVES[half]))})",
        extra={**whole.meta.extra, "planted": f"half {half} of the planted mood push: interacts with the other half"},
    )
    return SteeringVector({SiteKey(Site.RESID, layer): push}, meta)


def write_pair_vectors(folder: Path, recipe: DemoRecipe | None = None) -> list[Path]:
    """The two halves and the whole mood and style pushes, in `folder` (the pair study's four vectors)."""
    recipe = recipe or DemoRecipe()
    vectors = {f"planted-mood-half-{h}": planted_half(h, recipe) for h in HALVES}
    vectors |= {f"planted-{b}": planted_vector(b, recipe) for b in ("mood", "style")}
    return [save_vector(vector, folder / f"{name}.safetensors") for name, vector in vectors.items()]
