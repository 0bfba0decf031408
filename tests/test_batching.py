"""--batch-size auto: halving on out-of-memory (the GPU rule, with out-of-memory simulated), the CPU
memory estimate, and scoring with an automatic size giving the same numbers as a fixed one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

import steer_eval.steering.batching as batching
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Site

PAIRS = [(f"the {a} is", f" {b} and bad") for a in ("cat", "dog", "bird") for b in ("happy", "sad", "good", "red")]


def requests() -> list[Instance]:
    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(PAIRS)]


def test_probe_halves_until_it_fits() -> None:
    tried = []

    def attempt(size: int) -> None:
        tried.append(size)
        if size > 12:
            raise torch.OutOfMemoryError("simulated")

    assert batching.probe_batch_size(attempt, 64) == 8
    assert tried == [64, 32, 16, 8]
    with pytest.raises(torch.OutOfMemoryError, match="max_length"):
        batching.probe_batch_size(lambda size: (_ for _ in ()).throw(torch.OutOfMemoryError("x")), 4)


def test_cpu_estimate_scales_with_memory_length_and_vocabulary(monkeypatch) -> None:
    class Config:
        vocab_size, hidden_size, intermediate_size, num_attention_heads = 32000, 768, 3072, 12

    monkeypatch.setattr(batching, "available_memory_bytes", lambda: 8 * 2**30)
    short = batching.cpu_batch_size(128, Config, 4, 0, 1024)
    long = batching.cpu_batch_size(512, Config, 4, 0, 1024)
    assert 1 <= long < short <= 1024
    assert short == int(0.25 * 8 * 2**30 // batching.bytes_per_row(128, Config, 4, 0))
    assert batching.cpu_batch_size(128, Config, 4, 0, 16) == 16, "never above the maximum"
    monkeypatch.setattr(batching, "available_memory_bytes", lambda: 1024)
    assert batching.cpu_batch_size(128, Config, 4, 0, 64) == 1, "never below one"


def test_auto_batch_scores_like_a_fixed_batch(tiny_dir: Path, monkeypatch) -> None:
    steer = [Intervention(SiteKey(Site.RESID, 1), torch.ones(32), alpha=2.0)]
    fixed = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size=4)
    fixed.set_interventions(steer)
    expected = [ll for ll, _ in fixed.loglikelihood(requests(), disable_tqdm=True)]

    auto = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size="auto")
    auto.set_interventions(steer)
    # room for about 3 rows: the chosen size must follow the memory estimate
    row = batching.bytes_per_row(5, auto.model.config, 4, 0)  # rows: 3 + 3 tokens, minus the last
    monkeypatch.setattr(batching, "available_memory_bytes", lambda: int(3.5 * row / batching.CPU_MEMORY_SHARE))
    calls = []
    handle = auto.model.register_forward_pre_hook(lambda module, args: calls.append(1))
    got = [ll for ll, _ in auto.loglikelihood(requests(), disable_tqdm=True)]
    handle.remove()
    assert auto._auto_sizes == {(5, 0): 3}
    assert got == pytest.approx(expected, abs=1e-5)
    assert len(calls) == 4  # 12 rows in batches of 3


def test_gpu_rule_runs_the_sweep_workload(tiny_dir: Path) -> None:
    """The trial batch (capture + replay + log-softmax) runs; out-of-memory above 5 rows gives 4."""
    lm = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size="auto")
    sizes = []

    def attempt(size: int) -> None:
        lm._trial_batch(size, 12, 2)
        sizes.append(size)
        if size > 5:
            raise torch.OutOfMemoryError("simulated")

    assert batching.probe_batch_size(attempt, lm.max_batch_size) == 4
    assert sizes[-1] == 4
