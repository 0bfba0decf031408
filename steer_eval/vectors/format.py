"""steer-eval's own vector file: a `.safetensors` file with one tensor per (site, layer[, head]) and a
JSON metadata record. This module owns the records (`SiteKey`, `VectorMeta`, `SteeringVector`) and
reading/writing them; it knows nothing about models (see steering/ for validation against a model).

Tensor names: `resid.14`, `mlp.3`, `attn.7`, `head.7.2` (layer 7, head 2), and optional clamp biases
named like the vector plus `.bias` (`resid.14.bias`). Metadata lives under the `steer_eval` key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from steer_eval._version import version as steer_eval_version
from steer_eval.atomic import atomic_path
from steer_eval.errors import SteerEvalError, VectorFileError
from steer_eval.vectors.provenance import read_trained_on
from steer_eval.vocab import Action, PositionMode, Site, parse_enum

FORMAT_VERSION = 1
METADATA_KEY = "steer_eval"
BIAS_SUFFIX = ".bias"
RESAMPLE_PREFIX = (
    "resample"  # "resample3.resid.12": resample 3 of the vector's tensor at resid.12 (vectors/resample.py)
)
_NORM_RTOL = 1e-4


_FORWARD_ORDER = {Site.HEAD: 0, Site.ATTN: 1, Site.MLP: 2, Site.RESID: 3}


@dataclass(frozen=True)
class SiteKey:
    """Where one tensor acts: a site at a decoder layer (and a head, for the per-head site).
    Keys sort in the model's forward order: by layer, then head slice, attention, MLP, block output."""

    site: Site
    layer: int
    head: int | None = None

    def __lt__(self, other: SiteKey) -> bool:
        return self._order < other._order

    @property
    def _order(self) -> tuple[int, int, int]:
        return (self.layer, _FORWARD_ORDER[self.site], -1 if self.head is None else self.head)

    @property
    def tensor_name(self) -> str:
        base = f"{self.site.value}.{self.layer}"
        return base if self.head is None else f"{base}.{self.head}"

    @classmethod
    def parse(cls, name: str) -> SiteKey:
        parts = name.split(".")
        try:
            site = Site(parts[0])
            numbers = [int(p) for p in parts[1:]]
        except ValueError:
            raise VectorFileError(_bad_name(name)) from None
        expected = 2 if site is Site.HEAD else 1
        if len(numbers) != expected or min(numbers) < 0:
            raise VectorFileError(_bad_name(name))
        return cls(site, numbers[0], numbers[1] if site is Site.HEAD else None)

    def __str__(self) -> str:
        return self.tensor_name


def _bad_name(name: str) -> str:
    return (
        f"tensor name {name!r} is not a steer-eval site name; expected 'resid.L', 'mlp.L', 'attn.L' "
        f"or 'head.L.H' (optionally followed by '{BIAS_SUFFIX}')"
    )


@dataclass
class VectorMeta:
    """What a vector is and how it was made. Stored as JSON inside the safetensors file."""

    method: str = "manual"
    model_name: str | None = None
    model_revision: str | None = None
    hidden_size: int | None = None
    action: Action = Action.ADD
    positions: PositionMode = PositionMode.ALL  # where it is to be applied
    default_alpha: float = 1.0
    # per_layer: each layer's tensor is a separate vector of its own (a layer sweep of one method); one
    # layer is applied at a time, `default_layer` unless the caller picks another. False: all tensors act
    # together (AUSteer units across layers, imported multi-layer vectors).
    per_layer: bool = False
    default_layer: int | None = None
    read_site: str | None = None  # where activations were read, e.g. "resid_pre" (block input)
    read_positions: str | None = None  # which tokens were read, e.g. "last_prompt", "answer_letter"
    data_hash: str | None = None  # sha256 of the training data, when built by steer-eval
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    steer_eval_version: str = field(default_factory=steer_eval_version)
    # Derived from the tensors when saving; checked against them when loading.
    sites: list[str] = field(default_factory=list)
    layers: list[int] = field(default_factory=list)
    norms: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # diagnostics, import provenance, trained_on (provenance.py)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str, where: str) -> VectorMeta:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VectorFileError(f"{where}: the steer-eval metadata is not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise VectorFileError(f"{where}: the steer-eval metadata must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise VectorFileError(
                f"{where}: unknown metadata field(s) {', '.join(unknown)}; the file was written by a newer "
                f"or different tool (this is steer-eval {steer_eval_version()})"
            )
        _check_field_types(raw, where)
        if raw.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise VectorFileError(
                f"{where}: vector format version {raw['format_version']} is newer than this steer-eval "
                f"understands ({FORMAT_VERSION}); upgrade steer-eval"
            )
        try:
            meta = cls(**raw)
            meta.action = parse_enum(Action, meta.action, "action")
            meta.positions = parse_enum(PositionMode, meta.positions, "position mode")
            meta.default_alpha = float(meta.default_alpha)
            meta.per_layer = bool(meta.per_layer)
        except (TypeError, ValueError) as exc:
            raise VectorFileError(f"{where}: malformed metadata ({exc})") from None
        except SteerEvalError as exc:
            raise VectorFileError(f"{where}: {exc}") from None
        return meta


_TEXT = (str, type(None))
_WHOLE = (int, type(None))
# JSON types of the metadata fields: a hand-edited or damaged record (a norm written as text, a string
# format version) is refused here with its field's name rather than failing later in arithmetic.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,),
    "model_name": _TEXT,
    "model_revision": _TEXT,
    "hidden_size": _WHOLE,
    "action": (str,),
    "positions": (str,),
    "default_alpha": (int, float),
    "per_layer": (bool, int),
    "default_layer": _WHOLE,
    "read_site": _TEXT,
    "read_positions": _TEXT,
    "data_hash": _TEXT,
    "created": (str,),
    "steer_eval_version": (str,),
    "sites": (list,),
    "layers": (list,),
    "norms": (dict,),
    "extra": (dict,),
    "format_version": (int,),
}


def _check_field_types(raw: dict[str, Any], where: str) -> None:
    for name, value in raw.items():
        types = _FIELD_TYPES.get(name)
        if types is None:
            continue
        wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if wrong:
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise VectorFileError(f"{where}: metadata field {name!r} is {value!r}, not {wanted}; the file is damaged")
    norms = raw.get("norms", {})
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in norms.values()):
        raise VectorFileError(
            f"{where}: metadata field 'norms' holds a value that is not a number; the file is damaged"
        )
    if any(isinstance(v, bool) or not isinstance(v, int) for v in raw.get("layers", [])):
        raise VectorFileError(f"{where}: metadata field 'layers' holds a value that is not a layer number")


@dataclass
class SteeringVector:
    """One steering vector: direction tensors per site key (float32, CPU) plus metadata."""

    directions: dict[SiteKey, torch.Tensor]
    meta: VectorMeta = field(default_factory=VectorMeta)
    biases: dict[SiteKey, torch.Tensor] = field(default_factory=dict)
    # bootstrap resamples of the training items (vectors/resample.py): stored beside the vector, never applied
    # with it and not part of its identity
    resamples: list[dict[SiteKey, torch.Tensor]] = field(default_factory=list)

    @property
    def keys(self) -> list[SiteKey]:
        return sorted(self.directions)

    @property
    def layers(self) -> list[int]:
        return sorted({key.layer for key in self.directions})

    def applied_keys(self, layer: int | None = None) -> list[SiteKey]:
        """The keys that act when this vector is applied: all of them, or for a per-layer vector those of
        `layer` (default: the file's default layer)."""
        if not self.meta.per_layer:
            if layer is not None and layer not in self.layers:
                raise SteerEvalError(f"this vector acts at layers {self.layers}, not at layer {layer}")
            return self.keys if layer is None else [k for k in self.keys if k.layer == layer]
        chosen = self.meta.default_layer if layer is None else layer
        if chosen not in self.layers:
            raise SteerEvalError(f"this per-layer vector has layers {self.layers}; layer {chosen} is not one of them")
        return [k for k in self.keys if k.layer == chosen]

    @property
    def implied_hidden_size(self) -> int | None:
        """The size shared by the residual/MLP/attention tensors (None if there are none, or they differ)."""
        sizes = {t.numel() for key, t in self.directions.items() if key.site is not Site.HEAD}
        return sizes.pop() if len(sizes) == 1 else None

    def norms(self) -> dict[str, float]:
        return {key.tensor_name: float(self.directions[key].norm()) for key in self.keys}

    def check(self, where: str) -> None:
        """Structural checks that need no model: non-empty, 1-D, finite, biases attached to vectors."""
        if not self.directions:
            raise VectorFileError(f"{where}: the vector holds no tensors")
        for name, tensor in self._all_tensors():
            if tensor.ndim != 1 or tensor.numel() == 0:
                raise VectorFileError(
                    f"{where}: tensor {name!r} has shape {tuple(tensor.shape)}; every steering tensor must be "
                    "a non-empty 1-D vector"
                )
            if not torch.isfinite(tensor).all():
                bad = int((~torch.isfinite(tensor)).sum())
                raise VectorFileError(
                    f"{where}: tensor {name!r} contains {bad} NaN/Inf value(s); rebuild the vector "
                    "(a NaN usually means an empty class or a division by a zero norm)"
                )
        for key, bias in self.biases.items():
            if key not in self.directions:
                raise VectorFileError(f"{where}: bias {key}{BIAS_SUFFIX} has no matching vector {key}")
            if bias.shape != self.directions[key].shape:
                raise VectorFileError(f"{where}: bias {key}{BIAS_SUFFIX} has a different size than {key}")
        sizes = {t.numel() for key, t in self.directions.items() if key.site is not Site.HEAD}
        if len(sizes) > 1:
            raise VectorFileError(f"{where}: residual/MLP/attention tensors have different sizes {sorted(sizes)}")
        if sizes and self.meta.hidden_size is not None and sizes != {self.meta.hidden_size}:
            raise VectorFileError(
                f"{where}: tensors have size {sizes.pop()} but the metadata says hidden size {self.meta.hidden_size}"
            )
        layers = sorted({key.layer for key in self.directions})
        if self.meta.default_layer is not None and self.meta.default_layer not in layers:
            raise VectorFileError(
                f"{where}: the default layer {self.meta.default_layer} is not among the file's layers {layers}"
            )
        if self.meta.per_layer and self.meta.default_layer is None:
            raise VectorFileError(f"{where}: a per-layer vector needs a default layer")
        if self.biases and self.meta.action is not Action.CLAMP:
            raise VectorFileError(f"{where}: biases are only meaningful for the 'clamp' action")
        if not math.isfinite(self.meta.default_alpha):
            raise VectorFileError(
                f"{where}: its default strength is {self.meta.default_alpha}; a strength must be a finite number "
                "(the file is damaged, or the tool that wrote it stored a non-finite coefficient)"
            )

    def check_applies(self, where: str, layer: int | None = None) -> list[SiteKey]:
        """The keys that act when applied at `layer` (as `applied_keys`), refusing a vector whose applied
        tensors are all zero: it would run, change nothing and be judged like a vector that was tried
        and failed. A per-layer vector is judged at the one layer that acts."""
        try:
            keys = self.applied_keys(layer)
        except SteerEvalError as exc:
            raise VectorFileError(f"{where}: {exc}") from None
        if not any(bool(self.directions[key].any()) for key in keys):
            names = ", ".join(key.tensor_name for key in keys)
            at = f" at layer {keys[0].layer}" if self.meta.per_layer else ""
            other = " or choose another of its layers" if self.meta.per_layer and len(self.layers) > 1 else ""
            raise VectorFileError(
                f"{where}: every tensor it would apply{at} is zero ({names}), so it cannot steer; rebuild it "
                f"(`steer-eval vectors show` shows its build diagnostics){other}"
            )
        return keys

    def _all_tensors(self) -> list[tuple[str, torch.Tensor]]:
        named = [(key.tensor_name, t) for key, t in self.directions.items()]
        return named + [(key.tensor_name + BIAS_SUFFIX, t) for key, t in self.biases.items()]


def save_vector(vector: SteeringVector, path: str | Path) -> Path:
    """Write `vector` to a `.safetensors` file atomically (a crash never leaves half a file)."""
    path = Path(path)
    vector.check(str(path))
    meta = dataclasses.replace(
        vector.meta,
        hidden_size=vector.meta.hidden_size or vector.implied_hidden_size,
        sites=sorted({key.site.value for key in vector.directions}),
        layers=sorted({key.layer for key in vector.directions}),
        norms=vector.norms(),
    )
    named = vector._all_tensors() + [
        (f"{RESAMPLE_PREFIX}{r}.{key.tensor_name}", t)
        for r, tensors in enumerate(vector.resamples)
        for key, t in tensors.items()
    ]
    tensors = {name: t.detach().to("cpu", torch.float32).contiguous() for name, t in named}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={METADATA_KEY: meta.to_json()})
    vector.meta = meta
    return path


def load_vector(path: str | Path) -> SteeringVector:
    """Read and check a steer-eval `.safetensors` vector file."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise VectorFileError(f"vector file not found: {where}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - safe_open is not a dict
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise VectorFileError(
            f"{where} is not a readable safetensors file ({exc}); steer-eval vectors are written by "
            "`steer-eval vectors build` or `steer-eval vectors import`"
        ) from None
    if METADATA_KEY not in header:
        raise VectorFileError(
            f"{where} is a safetensors file without steer-eval metadata, so its layers, site and action are unknown; "
            "save each layer's tensor with torch.save (a bare tensor per layer, or lm-eval's steered .pt dict) and "
            "import that: `steer-eval vectors import FILE.pt --from caa --layer L` (bare tensor) or "
            "`steer-eval vectors import FILE.pt` (lm-eval's format)"
        )
    meta = VectorMeta.from_json(header[METADATA_KEY], where)
    directions: dict[SiteKey, torch.Tensor] = {}
    biases: dict[SiteKey, torch.Tensor] = {}
    resamples: dict[int, dict[SiteKey, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if not tensor.dtype.is_floating_point:
            raise VectorFileError(f"{where}: tensor {name!r} has dtype {tensor.dtype}; expected floating point")
        if name.startswith(RESAMPLE_PREFIX):
            index, _, rest = name.removeprefix(RESAMPLE_PREFIX).partition(".")
            if not index.isdigit():
                raise VectorFileError(f"{where}: tensor {name!r} is not a resample name ({RESAMPLE_PREFIX}N.SITE)")
            resamples.setdefault(int(index), {})[SiteKey.parse(rest)] = tensor.to(torch.float32)
            continue
        target = biases if name.endswith(BIAS_SUFFIX) else directions
        target[SiteKey.parse(name.removesuffix(BIAS_SUFFIX))] = tensor.to(torch.float32)
    vector = SteeringVector(directions, meta, biases, [resamples[r] for r in sorted(resamples)])
    vector.check(where)
    _check_derived_fields(vector, where)
    if isinstance(meta.extra, dict):
        read_trained_on(meta.extra, where)  # a damaged training record fails here, not in a run's overlap count
    return vector


def _check_derived_fields(vector: SteeringVector, where: str) -> None:
    meta = vector.meta
    sites = sorted({key.site.value for key in vector.directions})
    layers = sorted({key.layer for key in vector.directions})
    if (meta.sites and meta.sites != sites) or (meta.layers and meta.layers != layers):
        raise VectorFileError(
            f"{where}: metadata lists sites {meta.sites} / layers {meta.layers} but the file holds "
            f"{sites} / {layers}; the file is corrupt or was edited by hand"
        )
    for name, norm in vector.norms().items():
        stored = meta.norms.get(name)
        if stored is not None and not math.isclose(stored, norm, rel_tol=_NORM_RTOL, abs_tol=1e-6):
            raise VectorFileError(
                f"{where}: tensor {name!r} has norm {norm:.6g} but the metadata records {stored:.6g}; "
                "the file is corrupt or was edited by hand"
            )


def content_sha256(vector: SteeringVector) -> str:
    """A hash of what a vector does: its tensors and the metadata that affects applying it (not when or
    by which version it was written), so an identical vector rebuilt later has the same identity."""
    digest = hashlib.sha256()
    for name, tensor in sorted(vector._all_tensors()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    meta = vector.meta
    applied = [meta.action.value, meta.positions.value, meta.default_alpha, meta.per_layer, meta.default_layer]
    digest.update(json.dumps(applied).encode())
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
