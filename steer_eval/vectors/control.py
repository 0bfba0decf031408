"""The placebo control: a seeded random vector shaped like a given one. For added vectors, each tensor
becomes a Gaussian direction with the same norm; for AU-scaling vectors, the same number of units per
tensor at random positions, carrying the same |beta| values with random signs. Everything else (layers,
action, positions, default strength and layer) is copied, so the control differs only in direction."""

from __future__ import annotations

import dataclasses

import torch

from steer_eval.vectors.format import SteeringVector, VectorMeta
from steer_eval.vocab import Action


def random_like(reference: SteeringVector, seed: int = 0, source: str | None = None) -> SteeringVector:
    generator = torch.Generator().manual_seed(seed)
    directions = {}
    for key in reference.keys:
        tensor = reference.directions[key]
        if reference.meta.action is Action.AU_SCALE:
            values = tensor[tensor != 0].abs()
            signs = torch.randint(0, 2, (values.numel(),), generator=generator) * 2 - 1
            units = torch.randperm(tensor.numel(), generator=generator)[: values.numel()]
            new = torch.zeros_like(tensor)
            new[units] = values * signs
        else:
            direction = torch.randn(tensor.numel(), generator=generator)
            new = direction / direction.norm() * tensor.norm()
        directions[key] = new
    meta = dataclasses.replace(
        reference.meta,
        method="random",
        data_hash=None,
        extra={"control_for": source or reference.meta.method, "seed": seed, "reference_norms": reference.norms()},
    )
    meta.created = VectorMeta().created
    biases = {key: bias.clone() for key, bias in reference.biases.items()}  # a clamp control keeps its offsets
    return SteeringVector(directions, meta, biases)
