"""Human-readable summary of a vector file, for `steer-eval vectors show`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from steer_eval.vectors.format import SteeringVector, file_sha256


def summary(vector: SteeringVector, path: str | Path) -> dict[str, Any]:
    meta = vector.meta
    return {
        "file": str(path),
        "sha256": file_sha256(path),
        "method": meta.method,
        "model": meta.model_name,
        "model_revision": meta.model_revision,
        "hidden_size": meta.hidden_size or vector.implied_hidden_size,
        "action": meta.action.value,
        "positions": meta.positions.value,
        "default_alpha": meta.default_alpha,
        "read_site": meta.read_site,
        "read_positions": meta.read_positions,
        "data_hash": meta.data_hash,
        "created": meta.created,
        "steer_eval_version": meta.steer_eval_version,
        "tensors": {
            key.tensor_name: {"size": t.numel(), "norm": float(t.norm())}
            for key, t in sorted(vector.directions.items(), key=lambda kv: kv[0])
        },
        "biases": sorted(key.tensor_name for key in vector.biases),
        "extra": meta.extra,
    }


def render_text(info: dict[str, Any]) -> str:
    lines = [f"{info['file']}", f"  sha256          {info['sha256']}"]
    for field in (
        "method",
        "model",
        "model_revision",
        "hidden_size",
        "action",
        "positions",
        "default_alpha",
        "read_site",
        "read_positions",
        "data_hash",
        "created",
        "steer_eval_version",
    ):
        if info[field] is not None:
            lines.append(f"  {field:<15} {info[field]}")
    lines.append("  tensors         name            size        norm")
    for name, t in info["tensors"].items():
        lines.append(f"                  {name:<15} {t['size']:<8} {t['norm']:>10.4f}")
    if info["biases"]:
        lines.append(f"  clamp biases    {', '.join(info['biases'])}")
    for key, value in info["extra"].items():
        lines.append(f"  {key:<15} {json.dumps(value, default=str)}")
    return "\n".join(lines)
