"""Sample-size guidance (issue 19), from the vector files of a run: for each vector built with
`vectors build --resamples R`, the cosine to the full-data vector of vectors built from subsets of its
training items, per subset size (vectors/resample.py, `extra.resamples.sample_size`), and the size from which
the direction has settled. One row per vector and size; the report plots them."""

from __future__ import annotations

from typing import Any

from steer_eval.errors import SteerEvalError


def sample_size_rows(manifest: dict) -> list[dict[str, Any]]:
    from steer_eval.vectors.files import read_vector_file

    rows = []
    for label, info in (manifest.get("vectors") or {}).items():
        if not isinstance(info, dict) or "path" not in info:
            continue
        if any(info.get(k) for k in ("control_of", "resample_of", "pair")):
            continue
        try:
            record = (read_vector_file(info["path"]).meta.extra.get("resamples") or {}).get("sample_size")
        except (SteerEvalError, OSError, AttributeError):
            continue
        if not isinstance(record, dict) or not record.get("sizes"):
            continue
        for size, draws in zip(record["sizes"], record["cosine_to_full"], strict=True):
            values = [d for d in draws if d is not None]
            if not values:
                continue
            rows.append(
                {
                    "vector": label,
                    "items": int(size),
                    "total": int(record["total"]),
                    "cosine_mean": sum(values) / len(values),
                    "cosine_low": min(values),
                    "cosine_high": max(values),
                    "settled_at": record.get("settled_at"),
                    "threshold": record.get("threshold"),
                }
            )
    return rows
