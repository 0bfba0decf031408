"""Human-readable summary of a vector file, for `steer-eval vectors show` and `vectors build`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from steer_eval.vectors.format import SteeringVector, file_sha256
from steer_eval.vectors.provenance import read_trained_on

_FIELDS = (
    "method",
    "model",
    "model_revision",
    "hidden_size",
    "action",
    "positions",
    "default_alpha",
    "per_layer",
    "default_layer",
    "read_site",
    "read_positions",
    "data_hash",
    "created",
    "steer_eval_version",
)


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
        "per_layer": meta.per_layer,
        "default_layer": meta.default_layer,
        "read_site": meta.read_site,
        "read_positions": meta.read_positions,
        "data_hash": meta.data_hash,
        "created": meta.created,
        "steer_eval_version": meta.steer_eval_version,
        "tensors": {
            key.tensor_name: {"size": t.numel(), "norm": float(t.norm()), "nonzero": int((t != 0).sum())}
            for key, t in sorted(vector.directions.items(), key=lambda kv: kv[0])
        },
        "biases": sorted(key.tensor_name for key in vector.biases),
        "extra": meta.extra,
    }


def render_text(info: dict[str, Any]) -> str:
    lines = [f"{info['file']}", f"  sha256          {info['sha256']}"]
    for name in _FIELDS:
        if info.get(name) is not None:
            lines.append(f"  {name:<15} {info[name]}")
    lines.append("  tensors         name            size     nonzero        norm")
    for name, t in info["tensors"].items():
        lines.append(f"                  {name:<15} {t['size']:<8} {t.get('nonzero', t['size']):<8} {t['norm']:>10.4f}")
    if info["biases"]:
        lines.append(f"  clamp biases    {', '.join(info['biases'])}")
    extra = dict(info["extra"])
    diagnostics, selection = extra.pop("diagnostics", None), extra.pop("selection", None)
    trained = extra.pop("trained_on", None)
    resampled = extra.pop("resamples", None)
    if trained is not None:  # thousands of hashes: a count here, all of them in --json
        lines.append(f"  {'trained_on':<15} {read_trained_on({'trained_on': trained}, info['file']).describe()}")
    if isinstance(resampled, dict):
        lines.append(f"  {'resamples':<15} {_resamples(resampled)}")
    for key, value in extra.items():
        lines.append(f"  {key:<15} {json.dumps(value, default=str)}")
    if diagnostics:
        lines += _diagnostics(diagnostics)
    if selection:
        lines += _selection(selection)
    return "\n".join(lines)


def _number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _diagnostics(diagnostics: dict[str, Any]) -> list[str]:
    counts = ", ".join(f"{k} {v}" for k, v in diagnostics.items() if k != "per_layer")
    lines = [
        f"  training data   {counts}",
        "  diagnostics     site            norm     pair cos   d'      ordered  (Braun et al.: higher = more reliable)",
    ]
    for name, row in diagnostics.get("per_layer", {}).items():
        lines.append(
            f"                  {name:<15} {_number(row.get('norm')):>8} {_number(row.get('mean_pairwise_cosine')):>9}"
            f" {_number(row.get('separation_d_prime'), 2):>6} {_number(row.get('separation_ordered_share')):>8}"
        )
    return lines


def _selection(selection: dict[str, Any]) -> list[str]:
    base, chosen = selection["baseline"], selection["chosen"]
    best = next(
        (c for c in selection["cells"] if c["layer"] == chosen["layer"] and c["alpha"] == chosen["alpha"]), None
    )
    layer = "" if chosen["layer"] is None else f"layer {chosen['layer']}, "
    lines = [
        f"  selection       on the {selection['split']} split ({selection['n_items']} items): {layer}"
        f"strength {chosen['alpha']:g}",
        f"                  target-answer rate {base['accuracy']:.3f} unsteered -> {best['accuracy']:.3f} steered"
        if best
        else "",
    ]
    if not selection.get("improves_on_baseline", True):
        lines.append("                  warning: no cell beat the unsteered model on validation")
    return [line for line in lines if line]


def render_build(vector: SteeringVector, path: str | Path) -> str:
    """What `vectors build` prints: where the file went and what came out."""
    return "wrote " + render_text(summary(vector, path))


def _resamples(record: dict) -> str:
    """One line: how many bootstrap resamples, their mean cosine to the vector per site, the layer pick's stability."""
    cosines = ", ".join(
        f"{key} {sum(v['cosine_to_main']) / len(v['cosine_to_main']):.2f}"
        for key, v in (record.get("by_key") or {}).items()
        if v.get("cosine_to_main") and v.get("pairwise_cosine_mean") is not None
    )
    text = f"{record.get('count')} bootstrap resamples of the training items; mean cosine to the vector: {cosines}"
    if record.get("layer_pick_stability") is not None:
        text += f"; the chosen layer is the vector's in {record['layer_pick_stability']:.0%} of them"
    curve = record.get("sample_size")
    if isinstance(curve, dict) and curve.get("sizes"):
        points = ", ".join(
            f"{size} {mean:.2f}" for size, mean in zip(curve["sizes"], curve["cosine_to_full_mean"], strict=True)
            if mean is not None
        )  # fmt: skip
        settled = curve.get("settled_at")
        where = f"settles at about {settled}" if settled else "has not settled by the largest subset"
        text += (
            f"; sample size: the direction {where} of {curve['total']} training items (mean cosine to the "
            f"full-data vector by subset size: {points})"
        )
    return text
