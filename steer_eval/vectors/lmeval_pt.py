"""lm-eval's `steered` vector files (`.pt`): {hookpoint: {steering_vector, steering_coefficient, action,
bias, head_index}}, read safely and written so lm-eval's own `--model steered` can use our vectors.

Reading never unpickles arbitrary objects: `torch.load(weights_only=True)` only admits tensors and
plain Python values, and a file that needs more is refused. Hookpoints are module names relative to
`model.base_model` (e.g. `layers.14`); mapping them to site keys needs the model's structure, which the
caller passes in as `resolve_hookpoint` (without it, the usual `<blocks>.<L>[.mlp|.self_attn]` pattern).
"""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from steer_eval.atomic import atomic_path
from steer_eval.errors import VectorFileError
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vocab import Action, PositionMode, Site

HookpointResolver = Callable[[str], SiteKey]
_FIELDS = {"steering_vector", "steering_coefficient", "action", "bias", "head_index"}
_PATTERN = re.compile(r"(?:^|\.)(\d+)(?:\.(mlp|feed_forward|self_attn|attn|attention|self_attention))?$")


def guess_site_key(hookpoint: str) -> SiteKey:
    """Site key from the conventional hookpoint shape, for when no model is at hand."""
    match = _PATTERN.search(hookpoint)
    if match is None:
        raise VectorFileError(
            f"cannot tell which layer and site hookpoint {hookpoint!r} is; pass --model so steer-eval can "
            "resolve it against the model's modules"
        )
    layer, child = int(match.group(1)), match.group(2)
    site = Site.RESID if child is None else Site.MLP if child in ("mlp", "feed_forward") else Site.ATTN
    return SiteKey(site, layer)


def safe_torch_load(path: str | Path) -> Any:
    """`torch.load` that admits only tensors and plain values (`weights_only=True`), with clear refusals."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise VectorFileError(f"vector file not found: {where}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = _unpickler_detail(str(exc))
        if "global" not in detail.lower():  # an opcode the safe unpickler does not know: damaged bytes
            raise VectorFileError(f"{where} is not a readable PyTorch file (damaged or not written by torch.save: "
                                  f"{detail}); re-export it from the tool that made it") from None  # fmt: skip
        raise VectorFileError(
            f"refused to load {where}: it contains pickled Python objects beyond tensors and plain values, "
            "and unpickling them could run arbitrary code. Re-save it as a dict of tensors, floats, strings "
            f"and None (the lm-eval steered format) or as a bare tensor. Detail: {detail}"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # a damaged zip or pickle stream surfaces as any of these, depending on where the damage is
        detail = " ".join(str(exc).split())[:300]
        raise VectorFileError(
            f"{where} is not a readable PyTorch file ({type(exc).__name__}: {detail}); re-export it from the tool "
            "that made it"
        ) from None


def _unpickler_detail(message: str) -> str:
    """The one informative line of torch's weights-only refusal (the rest is advice to unpickle anyway)."""
    marker = "WeightsUnpickler error:"
    text = message.split(marker, 1)[1] if marker in message else message
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else "unknown"
    return line if len(line) <= 200 else line[:200].rsplit(" ", 1)[0] + " ..."  # a whole word, said to go on


def read_lmeval_pt(path: str | Path, resolve_hookpoint: HookpointResolver | None = None) -> SteeringVector:
    path = Path(path)
    where = str(path)
    raw = safe_torch_load(path)
    if isinstance(raw, torch.Tensor):
        raise VectorFileError(
            f"{where} holds a bare tensor, not lm-eval's {{hookpoint: {{...}}}} dict; import it with "
            "`steer-eval vectors import FILE --from caa|pas --layer L` (CAA and PAS save bare per-layer tensors)"
        )
    if not isinstance(raw, dict) or not raw:
        raise VectorFileError(f"{where}: expected a non-empty dict {{hookpoint: {{steering_vector, ...}}}}")
    return _from_entries(raw, where, resolve_hookpoint or guess_site_key)


def _from_entries(raw: dict, where: str, resolve: HookpointResolver) -> SteeringVector:
    directions: dict[SiteKey, torch.Tensor] = {}
    biases: dict[SiteKey, torch.Tensor] = {}
    actions, coefficients, hookpoints = set(), {}, {}
    for hookpoint, entry in raw.items():
        if not isinstance(hookpoint, str) or not isinstance(entry, dict):
            raise VectorFileError(f"{where}: entry {hookpoint!r} must map a hookpoint name to a dict")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise VectorFileError(f"{where}: entry {hookpoint!r} has unknown field(s) {sorted(unknown)}")
        vector = entry.get("steering_vector")
        if not isinstance(vector, torch.Tensor):
            raise VectorFileError(f"{where}: entry {hookpoint!r} has no 'steering_vector' tensor")
        if not vector.is_floating_point():
            raise VectorFileError(
                f"{where}: entry {hookpoint!r} has a steering_vector of dtype {vector.dtype}; expected floating point"
            )
        if entry.get("head_index") is not None:
            raise VectorFileError(
                f"{where}: entry {hookpoint!r} uses head_index, which steer-eval does not import: lm-eval applies it "
                "to 4-D per-head outputs that Hugging Face attention modules do not produce"
            )
        action = str(entry.get("action", "add"))
        if action not in ("add", "clamp"):
            raise VectorFileError(
                f"{where}: entry {hookpoint!r} has action {action!r}; lm-eval knows 'add' and 'clamp'"
            )
        try:
            coefficient = float(entry.get("steering_coefficient", 1.0))
        except (TypeError, ValueError):
            raise VectorFileError(f"{where}: entry {hookpoint!r} has a non-numeric steering_coefficient") from None
        if not math.isfinite(coefficient):
            raise VectorFileError(
                f"{where}: entry {hookpoint!r} has steering_coefficient {coefficient}; a strength must be finite"
            )
        key = resolve(hookpoint)
        if key in directions:
            raise VectorFileError(f"{where}: hookpoints {hookpoints[key]!r} and {hookpoint!r} are the same site {key}")
        directions[key] = vector.reshape(-1).to(torch.float32)
        bias = entry.get("bias")
        if bias is not None and not (isinstance(bias, torch.Tensor) and bias.is_floating_point()):
            raise VectorFileError(f"{where}: entry {hookpoint!r} has a bias that is not a floating-point tensor")
        if bias is not None:
            if action != "clamp":
                raise VectorFileError(f"{where}: entry {hookpoint!r} has a bias, which lm-eval only allows with clamp")
            biases[key] = bias.reshape(-1).to(torch.float32)
        actions.add(action)
        coefficients[key], hookpoints[key] = coefficient, hookpoint
    if len(actions) > 1:
        raise VectorFileError(f"{where}: mixes 'add' and 'clamp' entries; split it into one file per action")
    action = Action(actions.pop())
    distinct = set(coefficients.values())
    if action is Action.ADD:
        # One shared coefficient becomes the default strength; different ones are folded into the tensors.
        if len(distinct) == 1:
            default_alpha = distinct.pop()
        else:
            default_alpha = 1.0
            directions = {key: t * coefficients[key] for key, t in directions.items()}
    elif len(distinct) > 1:
        raise VectorFileError(f"{where}: clamp entries use different values {sorted(distinct)}; split the file")
    else:
        default_alpha = distinct.pop()
    meta = VectorMeta(
        method="lm-eval-import",
        action=action,
        positions=PositionMode.ALL,  # lm-eval's steered model edits every position
        default_alpha=default_alpha,
        extra={"lm_eval_hookpoints": {str(k): v for k, v in hookpoints.items()}},
    )
    vector = SteeringVector(directions, meta, biases)
    vector.check(where)
    return vector


def write_lmeval_pt(
    vector: SteeringVector,
    path: str | Path,
    hookpoint_of: Callable[[SiteKey], str],
    alpha: float | None = None,
    layer: int | None = None,
) -> list[str]:
    """Write `vector` for lm-eval's steered model; returns notes about what lm-eval will do differently.
    Of a per-layer vector only one layer is written (`layer`, default: the vector's chosen layer)."""
    alpha = vector.meta.default_alpha if alpha is None else float(alpha)
    action = vector.meta.action
    if action is Action.AU_SCALE:
        raise VectorFileError("lm-eval has no AU-scaling action; AUSteer vectors cannot be exported to lm-eval")
    if action is Action.ABLATE and alpha != 1.0:
        raise VectorFileError(f"lm-eval can express ablation only at alpha 1 (a clamp to 0), not at alpha {alpha:g}")
    notes = []
    if vector.meta.positions is not PositionMode.ALL:
        notes.append(
            f"this vector is meant for positions={vector.meta.positions.value}, but lm-eval's steered model "
            "edits every position (few-shot examples included)"
        )
    keys = vector.applied_keys(layer)
    if vector.meta.per_layer and len(vector.layers) > 1:
        notes.append(f"wrote layer {keys[0].layer} of this per-layer vector (choose another with --layer)")
    entries: dict[str, dict[str, Any]] = {}
    for key in keys:
        entries[hookpoint_of(key)] = {
            "steering_vector": vector.directions[key].clone(),
            "steering_coefficient": 0.0 if action is Action.ABLATE else alpha,
            "action": "add" if action is Action.ADD else "clamp",
            "bias": vector.biases[key].clone() if key in vector.biases else None,
            "head_index": None,
        }
    with atomic_path(path) as tmp:
        torch.save(entries, tmp)
    return notes
