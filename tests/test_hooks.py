"""The Steerer's arithmetic, composition order, cleanup and dtype handling, checked against manual hooks."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_model

from steer_eval.errors import SteerEvalError
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Action, PositionMode, Site

TOKENS = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]])


def rand(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed))


def run(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(TOKENS).logits


def capture_block_output(model: torch.nn.Module, layer: int) -> torch.Tensor:
    """The residual stream after block `layer`, seen as the input of block `layer + 1` (a plain torch hook)."""
    blocks = ModelMap.of(model).blocks
    seen = {}

    def probe(module, args, kwargs):
        seen["h"] = (args[0] if args else kwargs["hidden_states"]).clone()

    handle = blocks[layer + 1].register_forward_pre_hook(probe, with_kwargs=True)
    try:
        run(model)
    finally:
        handle.remove()
    return seen["h"]


def hooks_attached(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_two_vectors_at_two_layers_equal_manual_hooks() -> None:
    model = tiny_model("llama")
    blocks = ModelMap.of(model).blocks
    v0, v2 = rand(32, 0), rand(32, 1)
    manual = [
        blocks[0].register_forward_hook(lambda m, a, out: out + 2.0 * v0),
        blocks[2].register_forward_hook(lambda m, a, out: out - 1.5 * v2),
    ]
    expected = run(model)
    for handle in manual:
        handle.remove()
    steerer = Steerer(model)
    steerer.set_interventions(
        [
            Intervention(SiteKey(Site.RESID, 2), v2, alpha=-1.5),
            Intervention(SiteKey(Site.RESID, 0), v0, alpha=2.0),
        ]
    )
    with steerer.active():
        got = run(model)
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, run(model), atol=1e-3)


def test_same_module_interventions_apply_in_the_given_order() -> None:
    model = tiny_model("llama")
    unit = rand(32, 3)
    unit = unit / unit.norm()
    push = rand(32, 4)
    clamp = Intervention(SiteKey(Site.RESID, 1), unit, action=Action.CLAMP, alpha=5.0)
    add = Intervention(SiteKey(Site.RESID, 1), push, alpha=1.0)
    steerer = Steerer(model)
    steerer.set_interventions([add, clamp])  # clamp last: the projection must end exactly at 5
    with steerer.active():
        after = capture_block_output(model, 1)
    assert torch.allclose(after @ unit, torch.full(after.shape[:2], 5.0), atol=1e-4)
    steerer.set_interventions([clamp, add])  # add last: projection = 5 + push . unit
    with steerer.active():
        after = capture_block_output(model, 1)
    assert torch.allclose(after @ unit, torch.full(after.shape[:2], 5.0 + float(push @ unit)), atol=1e-4)


@pytest.mark.parametrize("action", list(Action))
def test_action_arithmetic(action: Action) -> None:
    model = tiny_model("llama")
    before = capture_block_output(model, 1)
    vector = rand(32, 5)
    if action is Action.AU_SCALE:
        vector = torch.zeros(32)
        vector[[3, 17]] = torch.tensor([0.5, -0.25])  # two selected units, signed momentum
    steerer = Steerer(model)
    steerer.set_interventions([Intervention(SiteKey(Site.RESID, 1), vector, action=action, alpha=2.0)])
    with steerer.active():
        after = capture_block_output(model, 1)
    unit = vector / vector.norm()
    if action is Action.ADD:
        expected = before + 2.0 * vector
    elif action is Action.AU_SCALE:
        expected = before + before * 2.0 * vector
        assert torch.equal(after[..., 0], before[..., 0])  # unselected units untouched
    elif action is Action.CLAMP:
        expected = before + unit * (2.0 - (before @ unit).unsqueeze(-1))
    else:
        expected = before - 2.0 * (before @ unit).unsqueeze(-1) * unit  # alpha 2 reflects
    assert torch.allclose(after, expected, atol=1e-5)


def test_head_site_edits_only_that_heads_columns() -> None:
    model = tiny_model("llama")
    projection = ModelMap.of(model).module(SiteKey(Site.HEAD, 1, 2))
    seen = []
    handle = projection.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    run(model)
    steerer = Steerer(model)
    steerer.set_interventions([Intervention(SiteKey(Site.HEAD, 1, 2), torch.ones(8), alpha=3.0)])
    with steerer.active():
        run(model)
    handle.remove()
    before, after = seen
    assert torch.allclose(after[..., 16:24], before[..., 16:24] + 3.0)
    assert torch.equal(after[..., :16], before[..., :16]) and torch.equal(after[..., 24:], before[..., 24:])


def test_hooks_are_removed_after_an_error_inside_the_block() -> None:
    model = tiny_model("llama")
    steerer = Steerer(model)
    steerer.set_interventions([Intervention(SiteKey(Site.MLP, 0), rand(32, 0))])
    baseline_hooks = hooks_attached(model)
    with pytest.raises(ZeroDivisionError), steerer.active():
        assert hooks_attached(model) > baseline_hooks
        assert steerer.attached() == ["add mlp.0 alpha=1 positions=all"]
        _ = 1 / 0
    assert hooks_attached(model) == baseline_hooks
    assert steerer.attached() == []


def test_hooks_are_removed_when_a_registration_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model("llama")
    model_map = ModelMap.of(model)
    steerer = Steerer(model, model_map)
    steerer.set_interventions(
        [
            Intervention(SiteKey(Site.RESID, 0), rand(32, 0)),
            Intervention(SiteKey(Site.RESID, 2), rand(32, 1)),
        ]
    )

    def refuse(*args, **kwargs):
        raise RuntimeError("registration failed")

    monkeypatch.setattr(model_map.blocks[2], "register_forward_hook", refuse)
    baseline_hooks = hooks_attached(model)
    with pytest.raises(RuntimeError, match="registration failed"), steerer.active():
        pass
    assert hooks_attached(model) == baseline_hooks


def test_masked_modes_need_a_layout() -> None:
    steerer = Steerer(tiny_model("llama"))
    steerer.set_interventions([Intervention(SiteKey(Site.RESID, 0), rand(32, 0), positions=PositionMode.LAST_PROMPT)])
    with pytest.raises(SteerEvalError, match="last_prompt need to know where each prompt ends"), steerer.active():
        pass


def test_wrong_sizes_and_layers_are_refused_before_any_hook() -> None:
    steerer = Steerer(tiny_model("llama"))
    with pytest.raises(SteerEvalError, match="size 31"):
        steerer.set_interventions([Intervention(SiteKey(Site.RESID, 0), torch.ones(31))])
    with pytest.raises(SteerEvalError, match="layer 3 but"):
        steerer.set_interventions([Intervention(SiteKey(Site.RESID, 3), torch.ones(32))])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_vectors_follow_the_activation_dtype(dtype: torch.dtype) -> None:
    model = tiny_model("llama", dtype=dtype)
    baseline = run(model)
    steerer = Steerer(model)
    steerer.set_interventions([Intervention(SiteKey(Site.RESID, 1), rand(32, 0), alpha=4.0)])
    with steerer.active():
        steered = run(model)
        before = capture_block_output(model, 1)
    assert steered.dtype == dtype and before.dtype == dtype
    assert not torch.allclose(steered.float(), baseline.float(), atol=1e-2)
    steerer.set_alpha(0.0)
    with steerer.active():
        assert torch.equal(run(model), baseline)
