"""The demo model cache: built once, reused, rebuilt when corrupt, deterministic, and loadable by
transformers, lm-eval's `hf` model and our steered model. Uses a tiny recipe (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from steer_eval.demo import cache
from steer_eval.demo.cache import MANIFEST, demo_model_dir, problem_with
from steer_eval.demo.model import DemoRecipe
from steer_eval.vectors.format import file_sha256

TINY = DemoRecipe(hidden_size=16, intermediate_size=32, heads=2, layers=2, steps=5, batch_size=4, planted_layers=(1,),
                  planted_width=2)  # fmt: skip


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STEER_EVAL_CACHE", str(tmp_path))
    return tmp_path


def test_built_once_then_reused(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    real_build = cache._build
    monkeypatch.setattr(cache, "_build", lambda *a, **k: (built.append(a), real_build(*a, **k))[1])
    first = demo_model_dir(TINY, progress=False)
    assert first.is_relative_to(cache_root) and (first / MANIFEST).is_file()
    assert problem_with(first, TINY) is None
    assert demo_model_dir(TINY, progress=False) == first
    assert len(built) == 1, "a valid cached model must be reused"


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest"])
def test_corrupt_cache_is_rebuilt(cache_root: Path, damage: str) -> None:
    directory = demo_model_dir(TINY, progress=False)
    weights = directory / "model.safetensors"
    good = file_sha256(weights)
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "delete":
        weights.unlink()
    else:
        (directory / MANIFEST).write_text("{not json")
    assert problem_with(directory, TINY) is not None
    assert demo_model_dir(TINY, progress=False) == directory
    assert file_sha256(weights) == good, "the rebuilt model must be identical (deterministic training)"


def test_different_recipes_do_not_share_a_folder(cache_root: Path) -> None:
    assert demo_model_dir(TINY, progress=False) != demo_model_dir(
        DemoRecipe(**{**TINY.__dict__, "seed": 1}), progress=False
    )


def test_all_three_loaders_accept_the_directory(cache_root: Path) -> None:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM

    from steer_eval.steering.lm_model import SteerEvalLM

    directory = str(demo_model_dir(TINY, progress=False))
    model = AutoModelForCausalLM.from_pretrained(directory)
    assert model.config.num_hidden_layers == 2
    request = [Instance("loglikelihood", {}, ("q : which is more , two or five ? a :", " five"), 0)]
    plain = HFLM(pretrained=directory, device="cpu").loglikelihood(request, disable_tqdm=True)
    ours = SteerEvalLM(pretrained=directory, device="cpu").loglikelihood(request, disable_tqdm=True)
    assert torch.isclose(torch.tensor(plain[0][0]), torch.tensor(ours[0][0]), atol=1e-5)


def test_the_default_recipe_comes_from_the_shipped_weights_without_training(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training is chaotic across CPUs, so the default model ships (its ground truth checked where it was
    made): putting it in the cache must not train, and must give exactly the shipped tensors."""
    import json

    from safetensors.torch import load_file

    from steer_eval.demo.shipped import shipped_weights

    weights = shipped_weights(DemoRecipe())
    assert weights is not None, "the default recipe's weights must ship with the package"

    def no_training(*args, **kwargs):
        raise AssertionError("the default demo model was trained instead of taken from the shipped weights")

    monkeypatch.setattr(cache, "train_demo_model", no_training)
    directory = demo_model_dir(progress=False)
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["source"] == "shipped weights" and manifest["shipped"]["fingerprint"] == DemoRecipe().fingerprint()
    shipped, saved = load_file(weights), load_file(directory / "model.safetensors")
    assert shipped.keys() == saved.keys()
    assert all(torch.equal(shipped[name], saved[name]) for name in shipped)


def test_other_recipes_and_rebuilds_are_trained(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    trained = []
    real_train = cache.train_demo_model
    monkeypatch.setattr(cache, "train_demo_model", lambda *a, **k: (trained.append(a), real_train(*a, **k))[1])
    directory = demo_model_dir(TINY, progress=False)
    assert json.loads((directory / MANIFEST).read_text())["source"] == "trained here" and len(trained) == 1
    demo_model_dir(TINY, rebuild=True, progress=False)
    assert len(trained) == 2
