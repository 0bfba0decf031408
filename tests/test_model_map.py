"""Hook points resolve generically on every supported architecture, built tiny from its config."""

from __future__ import annotations

import pytest
import torch
from tiny import ARCH_CONFIGS, tiny_model

from steer_eval.errors import VectorMismatchError
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.format import SiteKey, SteeringVector
from steer_eval.vocab import Site

TOKENS = torch.tensor([[5, 6, 7, 8, 9, 10]])


def logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(TOKENS).logits


@pytest.mark.parametrize("arch", sorted(ARCH_CONFIGS))
def test_every_site_resolves_and_steers(arch: str) -> None:
    model = tiny_model(arch)
    model_map = ModelMap.of(model)
    assert (model_map.n_layers, model_map.hidden_size, model_map.n_heads) == (3, 32, 4)
    blocks = next(m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == 3)
    assert model_map.module(SiteKey(Site.RESID, 2)) is blocks[2]
    baseline = logits(model)
    steerer = Steerer(model, model_map)
    for site in Site:
        key = SiteKey(site, 1, 0 if site is Site.HEAD else None)
        module = model_map.module(key)
        assert module is not blocks[1] or site is Site.RESID
        assert any(module is m for m in blocks[1].modules()), f"{key} resolved outside block 1"
        size = model_map.expected_size(key)
        # random, not constant: LayerNorm removes the all-ones direction
        steerer.set_interventions(
            [Intervention(key, torch.randn(size, generator=torch.Generator().manual_seed(1)) * 3)]
        )
        with steerer.active():
            moved = logits(model)
        assert not torch.allclose(moved, baseline, atol=1e-4), f"steering {key} on {arch} changed nothing"
        steerer.set_alpha(0.0)
        with steerer.active():
            assert torch.equal(logits(model), baseline), f"alpha 0 at {key} on {arch} is not a no-op"
    assert torch.equal(logits(model), baseline), "hooks leaked after active()"


@pytest.mark.parametrize("arch", sorted(ARCH_CONFIGS))
def test_hookpoints_round_trip(arch: str) -> None:
    model_map = ModelMap.of(tiny_model(arch))
    for site in (Site.RESID, Site.MLP, Site.ATTN):
        key = SiteKey(site, 2)
        hookpoint = model_map.hookpoint(key)
        assert model_map.model.base_model.get_submodule(hookpoint) is model_map.module(key)
        assert model_map.key_for_hookpoint(hookpoint) == key


def test_gpt2_and_llama_hookpoints_use_their_own_names() -> None:
    assert ModelMap.of(tiny_model("llama")).hookpoint(SiteKey(Site.RESID, 1)) == "layers.1"
    assert ModelMap.of(tiny_model("gpt2")).hookpoint(SiteKey(Site.MLP, 1)) == "h.1.mlp"
    assert ModelMap.of(tiny_model("gpt_neox")).hookpoint(SiteKey(Site.ATTN, 0)) == "layers.0.attention"


def test_head_dim_follows_config_not_hidden_over_heads() -> None:
    assert ModelMap.of(tiny_model("qwen3")).head_dim(0) == 8
    assert ModelMap.of(tiny_model("llama")).head_dim(0) == 8


def test_mismatches_are_named() -> None:
    model_map = ModelMap.of(tiny_model("llama"))
    cases = {
        "size 16": SteeringVector({SiteKey(Site.RESID, 0): torch.ones(16)}),
        "has 3 layers": SteeringVector({SiteKey(Site.RESID, 7): torch.ones(32)}),
        "has 4 heads": SteeringVector({SiteKey(Site.HEAD, 0, 9): torch.ones(8)}),
    }
    for expected, vector in cases.items():
        with pytest.raises(VectorMismatchError, match=expected):
            model_map.check_fits(vector, "v.safetensors")
    with pytest.raises(VectorMismatchError, match="is not a decoder block"):
        model_map.key_for_hookpoint("layers.1.input_layernorm")
