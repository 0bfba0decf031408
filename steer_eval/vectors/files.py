"""Open any vector file steer-eval understands: our `.safetensors`, lm-eval's steered `.pt`, the CAA and
PAS reference code's bare per-layer `.pt` tensors, llama.cpp / repeng GGUF control vectors. `source`
names the format; `auto` decides by suffix and, for `.pt`, by content and file name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from steer_eval.errors import VectorFileError
from steer_eval.vectors.format import SteeringVector, load_vector
from steer_eval.vectors.lmeval_pt import HookpointResolver, read_lmeval_pt, safe_torch_load
from steer_eval.vocab import VECTOR_SOURCES

SOURCES = VECTOR_SOURCES
SUFFIXES = {
    ".safetensors": "steer-eval",
    ".pt": "lm-eval steered, CAA or PAS",
    ".pth": "lm-eval steered",
    ".gguf": "llama.cpp / repeng control vector",
}


def read_vector_file(
    path: str | Path,
    resolve_hookpoint: HookpointResolver | None = None,
    source: str = "auto",
    layer: int | None = None,
) -> SteeringVector:
    return read_vector_files([path], resolve_hookpoint, source, layer)


def read_vector_files(
    paths: Sequence[str | Path],
    resolve_hookpoint: HookpointResolver | None = None,
    source: str = "auto",
    layer: int | None = None,
) -> SteeringVector:
    """One vector from one file (or, for CAA, one file per layer)."""
    from steer_eval.vectors.foreign import CAA_NAME, PAS_NAME, read_caa, read_pas
    from steer_eval.vectors.gguf_io import read_gguf

    if source not in SOURCES:
        raise VectorFileError(f"unknown vector source {source!r}; choose from {', '.join(SOURCES)}")
    paths = [Path(p) for p in paths]
    if source == "auto":
        source = _detect(paths[0], PAS_NAME, CAA_NAME)
    if len(paths) > 1 and source != "caa":
        raise VectorFileError(f"several files make one vector only for CAA per-layer files, not for {source}")
    path = paths[0]
    if source == "caa":
        vector = read_caa(paths, layer)
    elif source == "steer-eval":
        vector = load_vector(path)
    elif source == "lmeval":
        vector = read_lmeval_pt(path, resolve_hookpoint)
    elif source == "pas":
        vector = read_pas(path, layer)
    else:
        vector = read_gguf(path)
    # every format passes the same checks (finite, 1-D, consistent sizes), named by the file read, so a
    # NaN in a CAA tensor is refused here and not when the converted file is written or, worse, applied
    vector.check(", ".join(str(p) for p in paths))
    return vector


def _detect(path: Path, pas_name, caa_name) -> str:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return "steer-eval"
    if suffix == ".gguf":
        return "gguf"
    if suffix in (".pt", ".pth"):
        if not isinstance(safe_torch_load(path), torch.Tensor):
            return "lmeval"
        if pas_name.search(path.name):
            return "pas"
        if caa_name.search(path.name):
            return "caa"
        raise VectorFileError(
            f"{path} holds a bare tensor whose file name follows neither the CAA nor the PAS convention; "
            "import it with `steer-eval vectors import FILE --from caa|pas --layer L`"
        )
    known = ", ".join(f"{s} ({kind})" for s, kind in SUFFIXES.items())
    raise VectorFileError(f"{path}: unknown vector file type {suffix or '(no suffix)'!r}; steer-eval reads {known}")
