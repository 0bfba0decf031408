"""Generation under the KV cache: each decode step is steered exactly as the position mode says, the
first generated token included. The counter is independent of the Steerer: a clamp to a huge value along
a unit direction, detected by a plain torch pre-hook on the next block."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

from steer_eval.steering.interventions import Intervention
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.steering.positions import SequenceLayout
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Action, PositionMode, Site

MARK = 1000.0
PROMPTS = ["the cat is very", "a dog", "question : is the bird red ? answer :"]
# a batch without padding: Hugging Face's generate may then pass no attention mask, and the decode steps'
# window must come from the KV cache itself (a bug once left every decode step unsteered under `generated`)
SAME_LENGTH = ["the cat is very", "the dog is very"]


class SteeredPositionCounter:
    """Records, per forward call, which absolute positions of each row carry the clamp mark."""

    def __init__(self, block: torch.nn.Module, unit: torch.Tensor) -> None:
        self.unit, self.calls = unit, []
        self.handle = block.register_forward_pre_hook(self._probe, with_kwargs=True)

    def _probe(self, module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        offset = 0 if not self.calls else self.calls[0]["width"] + len(self.calls) - 1
        marked = ((hidden.float() @ self.unit) - MARK).abs() < 1.0
        self.calls.append(
            {
                "width": hidden.shape[1],
                "rows": [[offset + int(p) for p in torch.nonzero(row).flatten()] for row in marked],
            }
        )


def expected(mode: PositionMode, width: int, lengths: list[int], offset: int, step_width: int) -> list[list[int]]:
    window = range(offset, offset + step_width)
    rows = []
    for length in lengths:
        if mode is PositionMode.ALL:
            rows.append(list(window))
        elif mode is PositionMode.PROMPT:
            rows.append([p for p in window if width - length <= p < width])
        elif mode is PositionMode.LAST_PROMPT:
            rows.append([p for p in window if p == width - 1])
        else:
            rows.append([p for p in window if p >= width - 1])
    return rows


@pytest.fixture(scope="module")
def lm(tiny_dir: Path) -> SteerEvalLM:
    return SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size=len(PROMPTS), max_length=128)


@pytest.mark.parametrize("prompts", [PROMPTS, SAME_LENGTH], ids=["padded", "unpadded"])
@pytest.mark.parametrize("mode", list(PositionMode))
def test_each_decode_step_is_steered_as_the_mode_says(lm: SteerEvalLM, mode: PositionMode, prompts: list) -> None:
    unit = torch.randn(32, generator=torch.Generator().manual_seed(0))
    unit = unit / unit.norm()
    clamp = Intervention(SiteKey(Site.RESID, 1), unit, action=Action.CLAMP, alpha=MARK, positions=mode)
    counter = SteeredPositionCounter(lm.steerer.model_map.blocks[2], unit)
    requests = [
        Instance("generate_until", {}, (p, {"until": ["zzzz"], "max_gen_toks": 4}), i) for i, p in enumerate(prompts)
    ]
    try:
        with lm.steering([clamp]):
            lm.generate_until(requests, disable_tqdm=True)
    finally:
        counter.handle.remove()
    lengths = sorted((len(lm.tok_encode(p)) for p in prompts), reverse=True)  # lm-eval batches longest first
    if prompts is SAME_LENGTH:
        assert len(set(lengths)) == 1, "the unpadded case needs prompts of one length"
    width = max(lengths)
    assert counter.calls[0]["width"] == width
    assert len(counter.calls) >= 2, "generation stopped before any decode step; the test proves nothing"
    for step, call in enumerate(counter.calls):
        offset = 0 if step == 0 else width + step - 1
        assert call["rows"] == expected(mode, width, lengths, offset, call["width"]), f"call {step} ({mode})"


def test_steerer_trace_matches_the_probe_in_plain_generate(lm: SteerEvalLM) -> None:
    """The Steerer's own trace agrees with the layout under Hugging Face's generate (no lm-eval)."""
    ids = torch.tensor([[0, 0, 5, 6], [7, 8, 9, 10]])
    mask = (ids != 0).long()
    lm.set_interventions([Intervention(SiteKey(Site.MLP, 0), torch.ones(32), positions=PositionMode.GENERATED)])
    trace: list = []
    try:
        with torch.no_grad(), lm.steerer.active(SequenceLayout.for_generation(mask), trace=trace):
            lm.model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0
            )
    finally:
        lm.set_interventions([])
    assert [(r.offset, r.width, r.positions_edited) for r in trace] == [(0, 4, 2), (4, 1, 2), (5, 1, 2)]


def test_steered_generation_differs_and_alpha_zero_does_not(lm: SteerEvalLM) -> None:
    requests = [
        Instance("generate_until", {}, (p, {"until": ["zzzz"], "max_gen_toks": 6}), i) for i, p in enumerate(PROMPTS)
    ]
    plain = lm.generate_until(requests, disable_tqdm=True)
    push = Intervention(SiteKey(Site.RESID, 0), torch.randn(32, generator=torch.Generator().manual_seed(2)) * 8)
    with lm.steering([push]):
        steered = lm.generate_until(requests, disable_tqdm=True)
        lm.set_alpha(0.0)
        unchanged = lm.generate_until(requests, disable_tqdm=True)
    assert steered != plain
    assert unchanged == plain
