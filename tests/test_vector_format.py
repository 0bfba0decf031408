"""steer-eval's .safetensors vector files: round trip, metadata, and every way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from steer_eval.errors import VectorFileError
from steer_eval.vectors.format import (
    METADATA_KEY,
    SiteKey,
    SteeringVector,
    VectorMeta,
    file_sha256,
    load_vector,
    save_vector,
)
from steer_eval.vocab import Action, PositionMode, Site


def example() -> SteeringVector:
    return SteeringVector(
        {SiteKey(Site.RESID, 3): torch.arange(8.0), SiteKey(Site.HEAD, 1, 2): torch.ones(4)},
        VectorMeta(
            method="caa",
            model_name="tiny",
            action=Action.CLAMP,
            positions=PositionMode.LAST_PROMPT,
            default_alpha=4.0,
            read_site="resid_pre",
            data_hash="abc",
            extra={"n_pairs": 10},
        ),
        biases={SiteKey(Site.RESID, 3): torch.full((8,), 0.5)},
    )


def test_round_trip_keeps_tensors_and_metadata(tmp_path: Path) -> None:
    path = save_vector(example(), tmp_path / "v.safetensors")
    loaded = load_vector(path)
    assert loaded.keys == [SiteKey(Site.HEAD, 1, 2), SiteKey(Site.RESID, 3)]
    assert torch.equal(loaded.directions[SiteKey(Site.RESID, 3)], torch.arange(8.0))
    assert torch.equal(loaded.biases[SiteKey(Site.RESID, 3)], torch.full((8,), 0.5))
    meta = loaded.meta
    assert (meta.method, meta.action, meta.positions, meta.default_alpha) == (
        "caa",
        Action.CLAMP,
        PositionMode.LAST_PROMPT,
        4.0,
    )
    assert (meta.read_site, meta.data_hash, meta.extra, meta.hidden_size) == ("resid_pre", "abc", {"n_pairs": 10}, 8)
    assert meta.sites == ["head", "resid"] and meta.layers == [1, 3]
    assert meta.norms["resid.3"] == pytest.approx(float(torch.arange(8.0).norm()))
    assert len(file_sha256(path)) == 64


def test_site_names_parse_strictly() -> None:
    assert SiteKey.parse("head.7.2") == SiteKey(Site.HEAD, 7, 2)
    for bad in ("foo.3", "resid", "resid.x", "head.3", "resid.3.1", "mlp.-1"):
        with pytest.raises(VectorFileError, match="not a steer-eval site name"):
            SiteKey.parse(bad)


def write_raw(path: Path, tensors: dict, meta: dict | None) -> Path:
    save_file(tensors, str(path), metadata=None if meta is None else {METADATA_KEY: json.dumps(meta)})
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "vector file not found"),
        (lambda p: p.write_bytes(b"not a safetensors file at all") and p, "not a readable safetensors file"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(4)}, None), "without steer-eval metadata"),
        (lambda p: write_raw(p, {"resid.1": torch.tensor([1.0, float("nan")])}, {}), "NaN/Inf"),
        (lambda p: write_raw(p, {"resid.1": torch.tensor([1.0, float("inf")])}, {}), "NaN/Inf"),
        (lambda p: write_raw(p, {"bogus.1": torch.ones(4)}, {}), "not a steer-eval site name"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(4)}, {"colour": "red"}), "unknown metadata field"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(4)}, {"action": "nudge"}), "unknown action 'nudge'"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(4)}, {"norms": {"resid.1": 9.0}}), "edited by hand"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(2, 2)}, {}), "1-D vector"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(4, dtype=torch.int64)}, {}), "floating point"),
        (lambda p: write_raw(p, {"resid.1": torch.ones(4), "mlp.2": torch.ones(5)}, {}), "different sizes"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path / "v.safetensors")
    with pytest.raises(VectorFileError, match=message):
        load_vector(path)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = save_vector(example(), tmp_path / "v.safetensors")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(VectorFileError, match="not a readable safetensors file"):
        load_vector(path)


def test_nan_is_refused_on_save_too(tmp_path: Path) -> None:
    with pytest.raises(VectorFileError, match="NaN/Inf"):
        save_vector(
            SteeringVector({SiteKey(Site.MLP, 0): torch.tensor([0.0, float("nan")])}), tmp_path / "v.safetensors"
        )
    assert not list(tmp_path.iterdir()), "a failed save must not leave files behind"
