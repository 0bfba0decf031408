"""llama.cpp / repeng control vectors (GGUF, arch `controlvector`): tensors `direction.N`, 1-D float32,
added by llama.cpp to the output of decoder block N (0-based; N = 0 is rejected by llama.cpp) at every
position, all layers together. repeng's layer ids follow the same convention. steer-eval's `resid.N` is
the same site, so direction.N <-> resid.N."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from steer_eval.atomic import atomic_path
from steer_eval.errors import VectorFileError
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vocab import Action, PositionMode, Site

ARCH = "controlvector"
_DIRECTION = re.compile(r"^direction\.(\d+)$")


def read_gguf(path: str | Path) -> SteeringVector:
    import gguf

    path = Path(path)
    if not path.is_file():
        raise VectorFileError(f"vector file not found: {path}")
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError, EOFError, IndexError) as exc:
        raise VectorFileError(f"{path} is not a readable GGUF file ({exc})") from None
    arch = _string_field(reader, "general.architecture")
    if arch not in (None, ARCH):
        raise VectorFileError(f"{path} is a GGUF {arch!r} file, not a control vector ({ARCH})")
    directions: dict[SiteKey, torch.Tensor] = {}
    for tensor in reader.tensors:
        match = _DIRECTION.match(tensor.name)
        if match is None:
            raise VectorFileError(f"{path}: unexpected tensor {tensor.name!r}; control vectors hold direction.N")
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            raise VectorFileError(f"{path}: tensor {tensor.name} is {tensor.tensor_type.name}; expected F32")
        shape = [int(n) for n in tensor.shape]
        if sum(n > 1 for n in shape) > 1:
            raise VectorFileError(f"{path}: tensor {tensor.name} has shape {shape}; control vectors are 1-D")
        key = SiteKey(Site.RESID, int(match.group(1)))
        if key in directions:
            raise VectorFileError(f"{path}: layer {key.layer} appears twice ({tensor.name})")
        values = np.array(tensor.data, dtype=np.float32).reshape(-1)
        directions[key] = torch.from_numpy(values.copy())
    if not directions:
        raise VectorFileError(f"{path}: the control vector holds no direction tensors")
    meta = VectorMeta(
        method="gguf-import",
        model_name=_string_field(reader, f"{ARCH}.model_hint"),
        positions=PositionMode.ALL,
        read_site="block output",
        extra={"imported_from": "llama.cpp / repeng control vector (GGUF)", "files": [path.name]},
    )
    vector = SteeringVector(directions, meta)
    vector.check(str(path))
    return vector


def write_gguf(
    vector: SteeringVector, path: str | Path, model_hint: str, alpha: float | None = None, layer: int | None = None
) -> list[str]:
    """Write the applied layers of `vector` (scaled by the strength) as a llama.cpp control vector."""
    import gguf

    if vector.meta.action is not Action.ADD:
        raise VectorFileError(f"llama.cpp control vectors only add; this vector's action is {vector.meta.action.value}")
    keys = vector.applied_keys(layer)
    bad = [str(k) for k in keys if k.site is not Site.RESID]
    if bad:
        raise VectorFileError(f"llama.cpp control vectors act on block outputs only (resid.N), not {', '.join(bad)}")
    if any(k.layer == 0 for k in keys):
        raise VectorFileError("llama.cpp cannot steer the output of block 0 (direction.0 is rejected); drop resid.0")
    alpha = vector.meta.default_alpha if alpha is None else float(alpha)
    notes = [f"strength {alpha:g} is folded into the tensors; llama.cpp's --control-vector-scaled scales further"]
    if vector.meta.positions is not PositionMode.ALL:
        notes.append(f"meant for positions={vector.meta.positions.value}, but llama.cpp adds at every position")
    if vector.meta.per_layer and len(vector.layers) > 1:
        notes.append(f"wrote layer {keys[0].layer} of this per-layer vector (choose another with --layer)")
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(tmp, ARCH)
        writer.add_string(f"{ARCH}.model_hint", model_hint)
        writer.add_uint32(f"{ARCH}.layer_count", len(keys))
        for key in keys:
            writer.add_tensor(f"direction.{key.layer}", (vector.directions[key] * alpha).numpy().astype(np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return notes


def _string_field(reader, name: str) -> str | None:
    import gguf

    field = reader.get_field(name)
    if field is None or not field.types or field.types[0] != gguf.GGUFValueType.STRING:
        return None
    return bytes(field.parts[-1]).decode("utf-8", errors="replace")
