"""SteerEvalLM inside lm-eval: parity with lm-eval's own `hf` and `steered` models, batching and padding
invariance of every position mode, strength swaps without reloading, and the request-cache guard."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.api.model import CachingLM
from lm_eval.models.hf_steered import SteeredModel
from lm_eval.models.huggingface import HFLM

from steer_eval.errors import SteerEvalError
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
from steer_eval.vectors.lmeval_pt import write_lmeval_pt
from steer_eval.vocab import Action, PositionMode, Site

PAIRS = [
    ("the cat is", " happy"),
    ("the cat is", " sad"),
    ("a dog was very", " sad and bad"),
    ("question : is the bird red ? answer :", " yes"),
    ("question : is the bird red ? answer :", " no"),
    ("one two three", " four five six seven"),
    ("we", " are not"),
    ("the big blue fish and the small red bird were", " happy"),
]


def requests() -> list[Instance]:
    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(PAIRS)]


def scores(lm: object) -> torch.Tensor:
    return torch.tensor([ll for ll, _ in lm.loglikelihood(requests(), disable_tqdm=True)], dtype=torch.float64)


def rand(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def lm(tiny_dir: Path) -> SteerEvalLM:
    return SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def hf_scores(tiny_dir: Path) -> torch.Tensor:
    return scores(HFLM(pretrained=str(tiny_dir), device="cpu", batch_size=4))


def test_unsteered_and_alpha_zero_match_lm_eval_hf(lm: SteerEvalLM, hf_scores: torch.Tensor) -> None:
    assert torch.allclose(scores(lm), hf_scores, atol=1e-5, rtol=0)
    with lm.steering([Intervention(SiteKey(Site.RESID, 1), rand(32, 0), alpha=0.0)]):
        assert torch.allclose(scores(lm), hf_scores, atol=1e-5, rtol=0)
        lm.set_alpha(3.0)
        assert not torch.allclose(scores(lm), hf_scores, atol=1e-2), "steering must move the scores"
    assert torch.allclose(scores(lm), hf_scores, atol=1e-5, rtol=0), "steering() must restore the previous state"


@pytest.mark.parametrize("action", ["add", "clamp"])
def test_all_positions_match_lm_eval_steered(tiny_dir: Path, tmp_path: Path, action: str) -> None:
    vector = SteeringVector(
        {SiteKey(Site.RESID, 0): rand(32, 1), SiteKey(Site.MLP, 2): rand(32, 2)},
        VectorMeta(action=Action(action), default_alpha=2.5),
    )
    ours = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size=4)
    pt_path = tmp_path / "v.pt"
    write_lmeval_pt(vector, pt_path, ours.steerer.model_map.hookpoint)
    theirs = SteeredModel(pretrained=str(tiny_dir), steer_path=str(pt_path), device="cpu", batch_size=4)
    save_vector(vector, tmp_path / "v.safetensors")
    for source in (pt_path, tmp_path / "v.safetensors"):
        ours_from_file = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size=4, vectors=str(source))
        assert torch.allclose(scores(ours_from_file), scores(theirs), atol=1e-4, rtol=0), source.suffix


MODES = list(PositionMode)


@pytest.mark.parametrize("mode", MODES)
def test_batched_equals_unbatched_and_left_equals_right_padding(
    tiny_dir: Path, lm: SteerEvalLM, mode: PositionMode
) -> None:
    intervention = Intervention(SiteKey(Site.RESID, 1), rand(32, 3), alpha=4.0, positions=mode)
    with lm.steering([intervention]):
        batched = scores(lm)
    single = SteerEvalLM(pretrained=lm.model, tokenizer=lm.tokenizer, device="cpu", batch_size=1)
    left = SteerEvalLM(pretrained=lm.model, tokenizer=lm.tokenizer, device="cpu", batch_size=4, padding_side="left")
    for other in (single, left):
        with other.steering([intervention]):
            assert torch.allclose(scores(other), batched, atol=1e-4, rtol=0)


def test_modes_steer_different_positions(lm: SteerEvalLM, hf_scores: torch.Tensor) -> None:
    """Each mode changes a different set of scores: a mode that silently steered everything would fail."""
    results = {}
    for mode in MODES:
        with lm.steering([Intervention(SiteKey(Site.RESID, 1), rand(32, 3), alpha=4.0, positions=mode)]):
            results[mode] = scores(lm)
    assert len({tuple(r.round(decimals=4).tolist()) for r in results.values()}) == len(MODES)
    # For a one-token answer, the only position that predicts it is the last prompt token.
    one_token = [i for i, (_, cont) in enumerate(PAIRS) if len(cont.split()) == 1]
    assert torch.allclose(
        results[PositionMode.GENERATED][one_token], results[PositionMode.LAST_PROMPT][one_token], atol=1e-5
    )


def test_vectors_model_arg_takes_several_files(tiny_dir: Path, tmp_path: Path) -> None:
    a = save_vector(SteeringVector({SiteKey(Site.RESID, 0): rand(32, 4)}), tmp_path / "a.safetensors")
    b = save_vector(
        SteeringVector({SiteKey(Site.ATTN, 2): rand(32, 5)}, VectorMeta(default_alpha=2.0)), tmp_path / "b.safetensors"
    )
    lm = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", vectors=f"{a};{b}", positions="prompt")
    assert [i.describe() for i in lm.interventions] == [
        "a.safetensors add resid.0 alpha=1 positions=prompt",
        "b.safetensors add attn.2 alpha=2 positions=prompt",
    ]


def test_lm_eval_response_cache_is_refused(lm: SteerEvalLM, tmp_path: Path) -> None:
    with pytest.raises(SteerEvalError, match="use_cache"):
        CachingLM(lm, str(tmp_path / "cache.db"))


def test_strength_swaps_reuse_the_loaded_weights(lm: SteerEvalLM) -> None:
    weights = lm.model.get_input_embeddings().weight.data_ptr()
    with lm.steering([Intervention(SiteKey(Site.RESID, 0), rand(32, 6))]):
        seen = []
        for alpha in (-2.0, 0.0, 2.0):
            lm.set_alpha(alpha)
            seen.append(scores(lm))
    assert lm.model.get_input_embeddings().weight.data_ptr() == weights
    assert not torch.allclose(seen[0], seen[2])
