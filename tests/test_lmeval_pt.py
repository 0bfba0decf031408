"""lm-eval's steered .pt format: safe reading, faithful mapping to our records, and writing it back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny import tiny_model

from steer_eval.errors import VectorFileError
from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vectors.lmeval_pt import guess_site_key, read_lmeval_pt, write_lmeval_pt
from steer_eval.vocab import Action, PositionMode, Site


def entry(vector: torch.Tensor, coefficient: float = 1.0, action: str = "add", **extra: object) -> dict:
    return {
        "steering_vector": vector,
        "steering_coefficient": coefficient,
        "action": action,
        "bias": None,
        "head_index": None,
        **extra,
    }


def test_shared_coefficient_becomes_the_default_strength(tmp_path: Path) -> None:
    path = tmp_path / "v.pt"
    torch.save({"layers.1": entry(torch.ones(32), 3.0), "layers.2.mlp": entry(torch.ones(1, 32) * 2, 3.0)}, path)
    vector = read_lmeval_pt(path)
    assert vector.keys == [SiteKey(Site.RESID, 1), SiteKey(Site.MLP, 2)]
    assert vector.meta.default_alpha == 3.0 and vector.meta.positions is PositionMode.ALL
    assert torch.equal(vector.directions[SiteKey(Site.MLP, 2)], torch.full((32,), 2.0))


def test_different_coefficients_are_folded_into_the_tensors(tmp_path: Path) -> None:
    path = tmp_path / "v.pt"
    torch.save({"layers.1": entry(torch.ones(4), 3.0), "layers.2": entry(torch.ones(4), -1.0)}, path)
    vector = read_lmeval_pt(path)
    assert vector.meta.default_alpha == 1.0
    assert torch.equal(vector.directions[SiteKey(Site.RESID, 2)], -torch.ones(4))


def test_clamp_with_bias_round_trips_through_our_writer(tmp_path: Path) -> None:
    model_map = ModelMap.of(tiny_model("gpt2"))
    original = SteeringVector(
        {SiteKey(Site.ATTN, 1): torch.arange(32.0)},
        VectorMeta(action=Action.CLAMP, default_alpha=7.0),
        biases={SiteKey(Site.ATTN, 1): torch.ones(32)},
    )
    path = tmp_path / "v.pt"
    assert write_lmeval_pt(original, path, model_map.hookpoint) == []
    raw = torch.load(path, weights_only=True)
    assert list(raw) == ["h.1.attn"] and raw["h.1.attn"]["action"] == "clamp"
    back = read_lmeval_pt(path, model_map.key_for_hookpoint)
    assert back.meta.action is Action.CLAMP and back.meta.default_alpha == 7.0
    assert torch.equal(back.directions[SiteKey(Site.ATTN, 1)], torch.arange(32.0))
    assert torch.equal(back.biases[SiteKey(Site.ATTN, 1)], torch.ones(32))


class Payload:
    """An arbitrary Python object: unpickling one means importing and running code from the file."""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"layers.1": {**entry(torch.ones(4)), "bias": Payload()}}, "pickled Python objects"),
        (Payload(), "pickled Python objects"),
        ({"layers.1": entry(torch.ones(4), head_index=2)}, "head_index"),
        ({"layers.1": entry(torch.ones(4)), "layers.2": entry(torch.ones(4), action="clamp")}, "split it"),
        ({"layers.1": entry(torch.ones(4), action="multiply")}, "action 'multiply'"),
        ({"layers.1": entry(torch.tensor([float("nan")] * 4))}, "NaN/Inf"),
        ({"layers.1": {"steering_coefficient": 1.0}}, "no 'steering_vector'"),
        ({"embed_tokens": entry(torch.ones(4))}, "cannot tell which layer"),
        ([torch.ones(4)], "expected a non-empty dict"),
    ],
)
def test_bad_pt_files_are_refused(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "v.pt"
    torch.save(content, path)
    with pytest.raises(VectorFileError, match=message):
        read_lmeval_pt(path)


def test_corrupt_pt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.pt"
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(VectorFileError, match=r"not a readable PyTorch file|pickled Python objects"):
        read_lmeval_pt(path)


def test_hookpoint_guessing() -> None:
    assert guess_site_key("layers.14") == SiteKey(Site.RESID, 14)
    assert guess_site_key("h.3.mlp") == SiteKey(Site.MLP, 3)
    assert guess_site_key("gpt_neox.layers.0.attention") == SiteKey(Site.ATTN, 0)


def test_export_refuses_what_lm_eval_cannot_express(tmp_path: Path) -> None:
    model_map = ModelMap.of(tiny_model("llama"))
    au = SteeringVector({SiteKey(Site.RESID, 0): torch.ones(32)}, VectorMeta(action=Action.AU_SCALE))
    with pytest.raises(VectorFileError, match="AU-scaling"):
        write_lmeval_pt(au, tmp_path / "a.pt", model_map.hookpoint)
    last = SteeringVector({SiteKey(Site.RESID, 0): torch.ones(32)}, VectorMeta(positions=PositionMode.LAST_PROMPT))
    notes = write_lmeval_pt(last, tmp_path / "b.pt", model_map.hookpoint)
    assert "edits every position" in notes[0]
