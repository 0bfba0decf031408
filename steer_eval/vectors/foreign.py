"""Bare per-layer tensors saved by the CAA and PAS reference code, read safely (`weights_only=True`).

- CAA (github.com/nrimsky/CAA, generate_vectors.py): `vectors/<behavior>/vec_layer_{L}_{model}.pt`, one
  1-D tensor, the mean difference of block L's OUTPUT at the answer letter (HF hidden_states[L+1]),
  added to block L's output at the positions after the instruction. Several files (layers) of one
  behaviour make one per-layer vector.
- PAS (github.com/Sasha-Cui/Painless_Activation_Steering, BenchmarkSteering.py):
  `{method}_layer{L}_strength{S}.pt` (or `_strength_best.pt`), one 1-D tensor read at HF hidden_states[L]
  (block L's INPUT) and added to block L's OUTPUT at the last position only; method BAS_full_mcq = PASf,
  iBAS_all = iPASa, iBAS_wrong_only = iPASwo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch

from steer_eval.errors import VectorFileError
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vectors.lmeval_pt import safe_torch_load
from steer_eval.vocab import PositionMode, Site

CAA_NAME = re.compile(r"vec_layer_(\d+)(?:_(.+))?\.pt$")
PAS_NAME = re.compile(r"^(.+?)_layer(\d+)_strength(best|_best|[-+0-9.eE]+)\.pt$")
PAS_METHODS = {"BAS_full_mcq": "pasf", "iBAS_all": "ipasa", "iBAS_wrong_only": "ipaswo"}


def bare_tensor(path: str | Path) -> torch.Tensor:
    raw = safe_torch_load(path)
    if not isinstance(raw, torch.Tensor):
        kind = (
            "a dict (lm-eval's steered format? import it with --from lmeval)"
            if isinstance(raw, dict)
            else type(raw).__name__
        )
        raise VectorFileError(f"{path}: expected one bare 1-D tensor, found {kind}")
    tensor = raw.detach().squeeze()
    if tensor.ndim != 1 or not tensor.is_floating_point():
        raise VectorFileError(
            f"{path}: expected a 1-D floating-point vector, found shape {tuple(raw.shape)} {raw.dtype}"
        )
    return tensor.to(torch.float32)


def _layer(path: Path, pattern: re.Pattern, group: int, layer: int | None, tool: str) -> int:
    if layer is not None:
        return layer
    match = pattern.search(path.name)
    if match is None:
        raise VectorFileError(
            f"{path}: cannot tell the layer from the file name (the {tool} code names files like "
            f"{'vec_layer_13_Llama-2-7b-chat-hf.pt' if tool == 'CAA' else 'iBAS_all_layer14_strength4.0.pt'}); "
            "pass --layer L"
        )
    return int(match.group(group))


def read_caa(paths: Sequence[str | Path], layer: int | None = None) -> SteeringVector:
    """One per-layer vector from CAA `vec_layer_*.pt` files (one per layer)."""
    if layer is not None and len(paths) > 1:
        raise VectorFileError("--layer names the layer of a single file; CAA file names carry their layers")
    directions: dict[SiteKey, torch.Tensor] = {}
    model_names = set()
    for raw_path in paths:
        path = Path(raw_path)
        key = SiteKey(Site.RESID, _layer(path, CAA_NAME, 1, layer, "CAA"))
        if key in directions:
            raise VectorFileError(f"{path}: a second file for layer {key.layer}")
        directions[key] = bare_tensor(path)
        match = CAA_NAME.search(path.name)
        if match and match.group(2):
            model_names.add(match.group(2))
    layers = sorted(k.layer for k in directions)
    meta = VectorMeta(
        method="caa",
        model_name=model_names.pop() if len(model_names) == 1 else None,
        positions=PositionMode.GENERATED,
        per_layer=True,
        default_layer=layers[len(layers) // 2],
        read_site="block output (HF hidden_states[L+1])",
        read_positions="answer_letter",
        extra={"imported_from": "CAA (nrimsky/CAA) per-layer .pt", "files": [Path(p).name for p in paths]},
    )
    return SteeringVector(directions, meta)


def read_pas(path: str | Path, layer: int | None = None) -> SteeringVector:
    """A PAS vector file; strength from the name becomes the default strength where it is a number."""
    path = Path(path)
    layer = _layer(path, PAS_NAME, 2, layer, "PAS")
    match = PAS_NAME.search(path.name)
    method = PAS_METHODS.get(match.group(1), match.group(1)) if match else "pas"
    strength = match.group(3) if match else None
    try:
        alpha = float(strength) if strength is not None else 1.0
    except ValueError:  # "best": the strength chosen by the PAS code is not in the file name
        alpha = 1.0
    meta = VectorMeta(
        method=method,
        positions=PositionMode.LAST_PROMPT,
        default_alpha=alpha,
        per_layer=True,
        default_layer=layer,
        read_site="resid_pre (block input, HF hidden_states[L]); written at block L's output",
        read_positions="last_token",
        extra={"imported_from": "PAS (Sasha-Cui/Painless_Activation_Steering) .pt", "files": [path.name]},
    )
    return SteeringVector({SiteKey(Site.RESID, layer): bare_tensor(path)}, meta)
