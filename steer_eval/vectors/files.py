"""Open any vector file steer-eval understands, chosen by suffix: our `.safetensors` or lm-eval's `.pt`."""

from __future__ import annotations

from pathlib import Path

from steer_eval.errors import VectorFileError
from steer_eval.vectors.format import SteeringVector, load_vector
from steer_eval.vectors.lmeval_pt import HookpointResolver, read_lmeval_pt

SUFFIXES = {".safetensors": "steer-eval", ".pt": "lm-eval steered", ".pth": "lm-eval steered"}


def read_vector_file(path: str | Path, resolve_hookpoint: HookpointResolver | None = None) -> SteeringVector:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return load_vector(path)
    if suffix in (".pt", ".pth"):
        return read_lmeval_pt(path, resolve_hookpoint)
    known = ", ".join(f"{s} ({kind})" for s, kind in SUFFIXES.items())
    raise VectorFileError(f"{path}: unknown vector file type {suffix or '(no suffix)'!r}; steer-eval reads {known}")
