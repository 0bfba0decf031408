"""Vectors applied together (`--combine`), planned before any compute.

- `--combine` (or `--combine all`): every vector at once, each at `combination_layer`, at the run's shared
  numeric strengths; analysis/interactions.py compares it with the singles at that one strength.
- `--combine pairs` (every pair of the run's vectors) or `--combine A+B[,C+D]` (declared pairs, by file
  name or stem): a small factorial per pair, the members' own strengths crossed. Each member runs at every
  non-zero strength it runs at alone, so each joint cell has both of its singles to be compared with. With
  placebo draws on (`--controls random`), a placebo pair too, A with B's first same-norm random draw at the
  same strengths: what adding *any* vector of B's norm does to A, the reference for calling a pair
  interacting (analysis/pairs.py). Each pair records the cosine of its members where they act and the
  overlap of their largest units (`pair_geometry`), shown next to the interaction."""

from __future__ import annotations

import hashlib
from itertools import combinations, product
from pathlib import Path
from typing import Any

import torch

from steer_eval.errors import SteerEvalError
from steer_eval.run.grid import VectorPlan, VectorRef
from steer_eval.strengths import SELECTED
from steer_eval.vectors.format import SteeringVector

ALL = "all"
PAIRS = "pairs"
TOP_UNITS = 0.1  # the share of a vector's units (largest |value|) compared for overlap


def combination_layer(vector: SteeringVector) -> int | None:
    """The layer at which a combination applies a member: a per-layer vector at its default layer (a
    combination has no --layers axis of its own), any other vector with all of its tensors (None)."""
    return vector.meta.default_layer if vector.meta.per_layer else None


def check_spec(spec: str, vectors: int) -> None:
    """The shape of a --combine value, before any file is read."""
    if spec in (ALL, PAIRS):
        if vectors < 2:
            raise SteerEvalError(f"--combine {spec} needs at least two vectors (got {vectors})")
        return
    for part in spec.split(","):
        names = [name.strip() for name in part.split("+")]
        if len(names) != 2 or not all(names):
            raise SteerEvalError(
                f"--combine {spec!r}: {part!r} is not a pair; write pairs as A+B (file names or stems, "
                "comma-separated, e.g. mood.safetensors+style.safetensors), or `pairs` for every pair, or no "
                "value to run all vectors together"
            )


def resolve_pairs(spec: str, names: list[str]) -> list[tuple[int, int]]:
    """Indices into `names` (the run's vector file names) of each pair `spec` asks for."""
    if spec == PAIRS:
        return list(combinations(range(len(names)), 2))
    stems = [Path(name).stem for name in names]

    def index(name: str) -> int:
        for candidates in (names, stems):
            if name in candidates:
                return candidates.index(name)
        raise SteerEvalError(
            f"--combine names {name!r}, which is not a vector of this run; the run's vectors are "
            f"{', '.join(names)} (name them by file name or stem)"
        )

    pairs = []
    for part in spec.split(","):
        first, second = (index(name.strip()) for name in part.split("+"))
        if first == second:
            raise SteerEvalError(f"--combine {part!r} pairs {names[first]} with itself; name two different vectors")
        if (first, second) not in pairs and (second, first) not in pairs:
            pairs.append((first, second))
    return pairs


def check_pair(first: tuple[str, SteeringVector], second: tuple[str, SteeringVector]) -> None:
    """Two vectors of other widths or other models cannot be meaningfully added: one line naming both."""
    (name_a, a), (name_b, b) = first, second
    if a.meta.hidden_size != b.meta.hidden_size:
        raise SteerEvalError(
            f"--combine {name_a}+{name_b}: {name_a} has width {a.meta.hidden_size} and {name_b} width "
            f"{b.meta.hidden_size}; a combination adds vectors of one model (build both for the run's model)"
        )
    if a.meta.model_name and b.meta.model_name and a.meta.model_name != b.meta.model_name:
        raise SteerEvalError(
            f"--combine {name_a}+{name_b}: {name_a} was built for {a.meta.model_name} and {name_b} for "
            f"{b.meta.model_name}; a combination adds vectors of one model (build both for the same model)"
        )


def all_together(
    singles: list[tuple[VectorRef, list[int | None]]],
    vectors: dict[str, SteeringVector],
    modes: list,
    strengths: list,
    selected_required: bool,
    notes: list[str],
) -> VectorPlan:
    """All vectors together, each at `combination_layer`, at the numeric strengths: `selected` is each
    vector's own strength, and a combination has none (its interaction is judged against the singles at one
    shared strength). Notes name members whose combination layer is not among the layers their single cells
    run at (--layers without the default layer): the interaction needs a single cell at that very layer, so
    the analysis will skip such a combination."""
    members = tuple(ref.sha256 for ref, _ in singles)
    layers = tuple(combination_layer(vectors[sha]) for sha in members)
    # the layers are part of what the combination does, so of its identity (and cell keys): a cell written
    # before combinations recorded their members' layers is recomputed rather than adopted without them
    text = "combination:" + ":".join(members) + ":layers:" + ":".join(map(str, layers))
    alphas = [float(a) for a in strengths if a != SELECTED]
    if selected_required:
        if not [a for a in alphas if a != 0]:
            raise SteerEvalError(
                "--combine runs all vectors together at shared strengths, and 'selected' is each vector's own; "
                "add numeric strengths to --alphas (e.g. selected,2,4), or use --combine pairs"
            )
        notes.append(f"--combine: the combination runs at {','.join(f'{a:g}' for a in alphas)} only; 'selected' is "
                     "each vector's own strength and a combination has none")  # fmt: skip
    notes += [_left_out(single, wanted, layer) for (single, wanted), layer in zip(singles, layers, strict=True)
              if layer not in wanted]  # fmt: skip
    ref = VectorRef(
        label=" + ".join(ref.label for ref, _ in singles),
        path=";".join(ref.path for ref, _ in singles),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        members=members,
        member_layers=layers,
    )
    return VectorPlan(ref, [None], modes, alphas)


def _left_out(single: VectorRef, wanted: list[int | None], layer: int | None) -> str:
    return (
        f"--combine applies {single.label} at its default layer {layer}, which --layers "
        f"{','.join(map(str, wanted))} leaves out: the combination runs, but its interaction with the single "
        "vectors cannot be computed (add that layer to --layers)"
    )


def pair_plans(
    pairs: list[tuple[VectorPlan, VectorPlan, VectorPlan | None]],
    vectors: dict[str, SteeringVector],
    notes: list[str],
) -> tuple[list[VectorPlan], list[dict[str, Any]]]:
    """The factorial cells of each (A, B, B's placebo or None) and a record per pair for the manifest."""
    plans: list[VectorPlan] = []
    records: list[dict[str, Any]] = []
    for first, second, placebo in pairs:
        layers = (combination_layer(vectors[first.ref.sha256]), combination_layer(vectors[second.ref.sha256]))
        missing = [(p, layer) for p, layer in zip((first, second), layers, strict=True) if layer not in p.layers]
        if missing:
            notes += [_left_out(p.ref, p.layers, layer).replace("the combination runs, but", "so the pair is not run:")
                      for p, layer in missing]  # fmt: skip
            continue
        label = f"{first.ref.label} + {second.ref.label}"
        plans += _factorial(first, second, layers, label, None)
        record = {
            "pair": label,
            "members": [first.ref.label, second.ref.label],
            "layers": list(layers),
            "placebo": None,
            **pair_geometry(vectors[first.ref.sha256], layers[0], vectors[second.ref.sha256], layers[1]),
        }
        if placebo is not None:
            record["placebo"] = f"{first.ref.label} + {placebo.ref.label}"
            plans += _factorial(first, placebo, layers, record["placebo"], label)
        records.append(record)
    return plans, records


def _factorial(
    first: VectorPlan,
    second: VectorPlan,
    layers: tuple[int | None, int | None],
    label: str,
    placebo_for: str | None,
) -> list[VectorPlan]:
    """One plan per strength pair: the first member's non-zero strengths crossed with the second's (a
    placebo runs at the strengths of the vector it imitates, so a placebo pair has its pair's)."""
    plans = []
    for a, b in product(_steered(first.alphas), _steered(second.alphas)):
        identity = f"pair:{first.ref.sha256}:{second.ref.sha256}:layers:{layers}:alphas:{a!r}:{b!r}"
        ref = VectorRef(
            label=f"{first.ref.label} x{a:g} + {second.ref.label} x{b:g}",
            path=f"{first.ref.path};{second.ref.path}",
            sha256=hashlib.sha256(identity.encode()).hexdigest(),
            members=(first.ref.sha256, second.ref.sha256),
            member_layers=layers,
            member_alphas=(a, b),
            pair=label,
            placebo_for=placebo_for,
        )
        plans.append(VectorPlan(ref, [None], first.modes, [1.0]))
    return plans


def _steered(alphas: list[float]) -> list[float]:
    return [a for a in dict.fromkeys(map(float, alphas)) if a != 0.0]


def _acting(vector: SteeringVector, layer: int | None) -> dict:
    """The tensors a vector applies in a combination (a per-layer vector: those at its layer)."""
    if layer is None:
        return dict(vector.directions)
    return {key: tensor for key, tensor in vector.directions.items() if key.layer == layer}


def pair_geometry(a: SteeringVector, layer_a: int | None, b: SteeringVector, layer_b: int | None) -> dict:
    """Cosine of two vectors over the sites where both act, and the overlap (Jaccard) of their largest units
    there (the top TOP_UNITS of each by |value|). None where they share no site: they act at different
    layers or sites, so there is nothing to compare in one space."""
    ta, tb = _acting(a, layer_a), _acting(b, layer_b)
    shared = sorted(set(ta) & set(tb), key=str)
    if not shared:
        return {"cosine": None, "unit_overlap": None, "shared_sites": []}
    x = torch.cat([ta[key].flatten().double() for key in shared])
    y = torch.cat([tb[key].flatten().double() for key in shared])
    cosine = float(torch.nn.functional.cosine_similarity(x, y, dim=0))
    k = max(1, round(TOP_UNITS * x.numel()))
    top_x, top_y = set(x.abs().topk(k).indices.tolist()), set(y.abs().topk(k).indices.tolist())
    return {
        "cosine": cosine,
        "unit_overlap": len(top_x & top_y) / len(top_x | top_y),
        "shared_sites": [str(key) for key in shared],
    }
