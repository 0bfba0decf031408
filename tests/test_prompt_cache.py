"""The shared prompt cache of generation sweeps (steering/prompt_cache.py): blocks below the lowest steered
block are computed once per prompt and the blocks above replayed per row; on every architecture we support
the replayed cache equals the model's own steered pass, a replay that went wrong is caught and replaced by
that pass, and the texts of a sweep are each setting's own."""

from __future__ import annotations

import contextlib

import pytest
import torch
from tiny import ARCH_CONFIGS, tiny_model, tiny_tokenizer

import steer_eval.steering.prompt_cache as prompt_cache
from steer_eval.steering.generation import _row_interventions
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import interventions_from_vector
from steer_eval.steering.prompt_cache import PromptCache, shared_blocks
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vocab import PositionMode, Site

PROMPTS = ["the cat is on the red", "a dog", "they were very happy and not sad at the first", "one two three"]
STRENGTHS = (-4.0, 0.0, 4.0)


def _setup(arch: str, positions: PositionMode = PositionMode.ALL, layer: int = 1):
    model = tiny_model(arch)
    steerer = Steerer(model)
    tokenizer = tiny_tokenizer()
    tokenizer.padding_side = "left"
    batch = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    size = steerer.model_map.hidden_size
    direction = torch.randn(size, generator=torch.Generator().manual_seed(1))
    vector = SteeringVector({SiteKey(Site.RESID, layer): direction}, VectorMeta(method="random"))
    settings = [interventions_from_vector(vector, alpha=a, positions=positions) for a in STRENGTHS]
    interventions = _row_interventions(settings, len(PROMPTS))
    return model, steerer, batch["input_ids"], batch["attention_mask"], settings, interventions


def _keys(cache, layer: int) -> torch.Tensor:
    return cache.layers[layer].keys


@pytest.mark.parametrize("arch", sorted(ARCH_CONFIGS))
def test_the_replayed_prompt_cache_is_the_models_own_steered_pass(arch: str) -> None:
    model, steerer, ids, mask, settings, interventions = _setup(arch)
    start = shared_blocks(settings, steerer.model_map.n_layers)
    assert start == 1
    builder = PromptCache(model, steerer, contextlib.nullcontext)
    cache = builder.build(ids, mask, len(STRENGTHS), start, interventions)
    assert builder.replay_checked and builder.replay_works, f"{arch}: the replay differs from the model's own pass"
    cache = builder.build(ids, mask, len(STRENGTHS), start, interventions)  # checked once: now the replay alone
    assert steerer.interventions == [] and not steerer.attached(), "the steerer is left as it was found"
    with torch.no_grad():
        reference = builder._steered_pass(
            dict(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], use_cache=True,
                 position_ids=(mask[:, :-1].cumsum(-1) - 1).clamp(min=0)),
            mask, len(STRENGTHS), interventions,
        )  # fmt: skip
    assert prompt_cache._same_cache(cache, reference)
    copies = len(STRENGTHS)
    below, above = _keys(cache, 0), _keys(cache, steerer.model_map.n_layers - 1)
    assert below.shape[0] == len(PROMPTS) * copies
    # prompt 0's rows: the same below the steered block, steered apart above it (strength -4 vs +4)
    assert torch.equal(below[0], below[2]) and not torch.allclose(above[0], above[2], atol=1e-4)


def test_a_replay_that_goes_wrong_is_caught_and_the_models_own_pass_used() -> None:
    model, steerer, ids, mask, _, interventions = _setup("llama")
    builder = PromptCache(model, steerer, contextlib.nullcontext)
    original = prompt_cache._batched

    def wrong(value, n, copies, cache, done):  # drops the attention mask: the padded rows attend to padding
        return None if isinstance(value, torch.Tensor) and value.ndim == 4 else original(value, n, copies, cache, done)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prompt_cache, "_batched", wrong)
        cache = builder.build(ids, mask, len(STRENGTHS), 1, interventions)
    assert builder.replay_checked and not builder.replay_works
    clean = PromptCache(model, steerer, contextlib.nullcontext)
    assert prompt_cache._same_cache(cache, clean.build(ids, mask, len(STRENGTHS), 1, interventions))
    again = builder.build(ids, mask, len(STRENGTHS), 1, interventions)  # no replay any more: the plain pass
    assert prompt_cache._same_cache(again, cache)


def test_settings_share_every_block_below_the_lowest_one_they_steer() -> None:
    _, steerer, *_, settings, _ = _setup("llama", PositionMode.PROMPT, layer=2)
    n_layers = steerer.model_map.n_layers
    assert shared_blocks(settings, n_layers) == 2
    assert shared_blocks([[], []], n_layers) == n_layers, "the baseline steers nothing"
    _, _, *_, generated, _ = _setup("llama", PositionMode.GENERATED, layer=0)
    assert shared_blocks(generated, n_layers) == n_layers, "`generated` leaves the prompt's cache unsteered"
    _, _, *_, at_zero, _ = _setup("llama", PositionMode.ALL, layer=0)
    assert shared_blocks(at_zero + generated, n_layers) == 0


def test_a_block_that_cannot_be_replayed_falls_back_to_the_models_own_pass() -> None:
    model, steerer, ids, mask, _, interventions = _setup("qwen3")
    builder = PromptCache(model, steerer, contextlib.nullcontext)

    def refuse(*_):
        raise TypeError("this block needs an argument only the model's forward gives")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prompt_cache, "_batched", refuse)
        cache = builder.build(ids, mask, len(STRENGTHS), 1, interventions)
    assert not builder.replay_works and not steerer.attached()
    assert [type(block).__name__ for block in steerer.model_map.blocks] == ["Qwen3DecoderLayer"] * 3, "blocks restored"
    clean = PromptCache(model, steerer, contextlib.nullcontext)
    assert prompt_cache._same_cache(cache, clean.build(ids, mask, len(STRENGTHS), 1, interventions))
