"""Sweeps with prefix reuse: every setting scored in one pass (an unsteered forward per batch, then a
replay from each setting's first steered block) gives the same numbers as scoring each setting on its own
with full forward passes, on every supported architecture, site, position mode and padding side; the work
done is one full pass plus (N - L) blocks per setting; a model whose replay does not reproduce its forward
pass falls back to full passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

from steer_eval.steering.interventions import Intervention
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Action, PositionMode, Site

PAIRS = [
    ("the cat is", " happy"),
    ("the cat is", " sad"),  # shares its context with the one before: lm-eval's one-token trick
    ("a dog was very", " sad and bad"),
    ("question : is the bird red ? answer :", " yes"),
    ("question : is the bird red ? answer :", " no"),
    ("one two three", " four five six seven"),
    ("we", " are not"),
    ("the big blue fish and the small red bird were", " happy"),
]
ARCHS = ["llama", "qwen3", "gemma2", "gpt2", "gpt_neox", "phi", "phi3"]


def requests() -> list[Instance]:
    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(PAIRS)]


def rand(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed))


def settings(hidden: int, head_dim: int, positions: PositionMode) -> dict[str, list[Intervention]]:
    """The unsteered baseline, a strength sweep at one layer, other sites, and a two-layer combination."""
    out: dict[str, list[Intervention]] = {"baseline": []}
    for alpha in (-4.0, 2.0, 8.0):
        out[f"resid1 x{alpha:g}"] = [
            Intervention(SiteKey(Site.RESID, 1), rand(hidden, 1), alpha=alpha, positions=positions)
        ]
    out["resid0"] = [Intervention(SiteKey(Site.RESID, 0), rand(hidden, 2), alpha=3.0, positions=positions)]
    out["mlp2 clamp"] = [
        Intervention(SiteKey(Site.MLP, 2), rand(hidden, 3), action=Action.CLAMP, alpha=2.0, positions=positions)
    ]
    out["attn1"] = [Intervention(SiteKey(Site.ATTN, 1), rand(hidden, 4), alpha=3.0, positions=positions)]
    out["head2.1"] = [Intervention(SiteKey(Site.HEAD, 2, 1), rand(head_dim, 5), alpha=5.0, positions=positions)]
    out["two layers"] = [
        Intervention(SiteKey(Site.RESID, 2), rand(hidden, 6), alpha=2.0, positions=positions),
        Intervention(SiteKey(Site.RESID, 1), rand(hidden, 7), alpha=-2.0, positions=positions),
    ]
    return out


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tiny import save_tiny

    return {arch: save_tiny(tmp_path_factory.mktemp(arch), arch) for arch in ARCHS}


def one_by_one(lm: SteerEvalLM, planned: dict[str, list[Intervention]]) -> dict[str, list[float]]:
    out = {}
    for key, interventions in planned.items():
        lm.set_interventions(interventions)
        out[key] = [ll for ll, _ in lm.loglikelihood(requests(), disable_tqdm=True)]
    return out


def swept(lm: SteerEvalLM, planned: dict[str, list[Intervention]]) -> dict[str, list[tuple[float, bool]]]:
    lm.plan_sweep(planned)
    try:
        out = {}
        for key in planned:
            lm.use_setting(key)
            out[key] = lm.loglikelihood(requests(), disable_tqdm=True)
        return out
    finally:
        lm.end_sweep()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(
    ("positions", "padding"),
    [(PositionMode.ALL, "right"), (PositionMode.LAST_PROMPT, "right"), (PositionMode.PROMPT, "left")],
)
def test_sweep_equals_setting_by_setting(
    model_dirs: dict[str, Path], arch: str, positions: PositionMode, padding: str
) -> None:
    lm = SteerEvalLM(pretrained=str(model_dirs[arch]), device="cpu", batch_size=3, padding_side=padding)
    model_map = lm.steerer.model_map
    planned = settings(model_map.hidden_size, model_map.head_dim(2), positions)
    expected = one_by_one(lm, planned)
    calls = []
    handle = lm.model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        got = swept(lm, planned)
    finally:
        handle.remove()
    assert lm.prefix.supported, lm.prefix.reason
    # 8 requests; when every mode steers all positions, requests sharing a context share a row (6 rows)
    rows = 6 if positions is PositionMode.ALL else 8
    assert len(calls) == -(-rows // 3), "one full forward pass per batch of 3 rows, whatever the settings"
    for key in planned:
        scores = [ll for ll, _ in got[key]]
        assert torch.allclose(torch.tensor(scores), torch.tensor(expected[key]), atol=1e-5, rtol=0), (arch, key)
    assert got["resid1 x2"] != got["baseline"], "steering must move the scores"


def test_block_work_is_one_pass_plus_the_replayed_blocks(model_dirs: dict[str, Path]) -> None:
    lm = SteerEvalLM(pretrained=str(model_dirs["llama"]), device="cpu", batch_size=8)
    planned = {
        "baseline": [],
        **{f"x{a}": [Intervention(SiteKey(Site.RESID, 1), rand(32, 1), alpha=a)] for a in (1.0, 2.0, 4.0)},
        "layer 2": [Intervention(SiteKey(Site.RESID, 2), rand(32, 1), alpha=1.0)],
    }
    blocks = lm.steerer.model_map.blocks
    calls = []
    handles = [block.register_forward_pre_hook(lambda *_: calls.append(1)) for block in blocks]
    try:
        swept(lm, planned)
    finally:
        for handle in handles:
            handle.remove()
    # one batch: 3 blocks unsteered, a check replay from block 1 (2 blocks), 3 x 2 blocks from 1, 1 from 2
    assert len(calls) == 3 + 2 + 3 * 2 + 1


def test_served_once_then_recomputed_and_other_requests_not_confused(model_dirs: dict[str, Path]) -> None:
    lm = SteerEvalLM(pretrained=str(model_dirs["llama"]), device="cpu", batch_size=4)
    steer = [Intervention(SiteKey(Site.RESID, 1), rand(32, 1), alpha=4.0)]
    lm.set_interventions(steer)
    expected = lm.loglikelihood(requests(), disable_tqdm=True)
    lm.plan_sweep({"base": [], "steer": steer})
    lm.use_setting("steer")
    first = lm.loglikelihood(requests(), disable_tqdm=True)
    again = lm.loglikelihood(requests(), disable_tqdm=True)  # already handed out: computed afresh
    other = [Instance("loglikelihood", {}, ("the dog is", " good"), 0)]
    lone = lm.loglikelihood(other, disable_tqdm=True)  # not among the swept requests
    lm.end_sweep()
    lm.set_interventions(steer)
    assert lone[0][0] == pytest.approx(lm.loglikelihood(other, disable_tqdm=True)[0][0], abs=1e-5)
    for a, b, c in zip(first, again, expected, strict=True):
        assert a[0] == pytest.approx(c[0], abs=1e-5) and b[0] == pytest.approx(c[0], abs=1e-5)
    with pytest.raises(KeyError):
        lm.use_setting("steer")


def test_a_sweep_resumed_with_another_batch_size_keeps_its_checkpoints_segments(
    model_dirs: dict[str, Path], monkeypatch, tmp_path: Path
) -> None:
    """`--batch-size auto` may pick another size after a restart (less free memory), or the user a smaller one
    after running out: the resumed sweep still scores only the segments its checkpoint lacks."""
    monkeypatch.setenv("STEER_EVAL_CHECKPOINT_SECONDS", "0")
    lm = SteerEvalLM(pretrained=str(model_dirs["llama"]), device="cpu", batch_size=1)
    planned = {"base": [], **{f"x{a}": [Intervention(SiteKey(Site.RESID, 1), rand(32, 1), alpha=a)] for a in (2, 4)}}
    uninterrupted = swept(lm, planned)
    calls = []
    original = SteerEvalLM._score_segment

    def stopped_at_second(self, subset, *args):
        calls.append(len(subset))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, subset, *args)

    monkeypatch.setattr(SteerEvalLM, "_score_segment", stopped_at_second)
    checkpoint = tmp_path / "partial" / "group.safetensors"
    lm.plan_sweep(planned, checkpoint)
    lm.use_setting("base")
    with pytest.raises(KeyboardInterrupt):  # segments of 4 batches of 1 request: 2 segments, the first kept
        lm.loglikelihood(requests(), disable_tqdm=True)
    lm.end_sweep()
    calls.clear()
    lm.batch_size_per_gpu = 8  # one segment of 8 requests, were the sweep starting afresh
    lm.plan_sweep(planned, checkpoint)
    try:
        resumed = {}
        for key in planned:
            lm.use_setting(key)
            resumed[key] = lm.loglikelihood(requests(), disable_tqdm=True)
    finally:
        lm.end_sweep()
    assert lm.resumed == (1, 2) and calls == [4], "only the segment the checkpoint lacks is scored"
    for key in planned:
        got, expected = ([ll for ll, _ in answers[key]] for answers in (resumed, uninterrupted))
        assert torch.allclose(torch.tensor(got), torch.tensor(expected), atol=1e-5, rtol=0), key


def test_replay_mismatch_falls_back_to_full_passes(model_dirs: dict[str, Path], caplog) -> None:
    lm = SteerEvalLM(pretrained=str(model_dirs["llama"]), device="cpu", batch_size=4)
    steer = [Intervention(SiteKey(Site.RESID, 1), rand(32, 1), alpha=4.0)]
    lm.set_interventions(steer)
    expected = [ll for ll, _ in lm.loglikelihood(requests(), disable_tqdm=True)]
    lm.prefix.softcap = 0.5  # a tail that no longer reproduces the model's logits
    got = swept(lm, {"base": [], "steer": steer})
    assert "does not reproduce its forward pass" in caplog.text
    assert not lm.prefix.supported
    assert [ll for ll, _ in got["steer"]] == pytest.approx(expected, abs=1e-5)
