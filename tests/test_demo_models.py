"""The second demo model (issue 20): `demo-qwen`, a Qwen3-family model of another width (96) and depth (5) trained
on the same world with the same planted construction, shipped like the first. Its truth holds by
construction too (its own planted pushes move its behaviours; the capability is learnt), the two models run
side by side from one command with recipes built per model, and a vector of one is refused on the other
(another width) with both widths named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from steer_eval.cli import main
from steer_eval.demo.model import DEMO_MODELS
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.models import same_model


def test_the_demo_models_are_listed_and_told_apart(capsys) -> None:
    assert main(["demo", "--models"]) == 0
    listed = capsys.readouterr().out
    assert "demo          llama" in listed and "demo-qwen     qwen3" in listed and "trained on first use" not in listed
    assert "demo-qwen-128 qwen3        4     128" in listed
    assert same_model("demo-qwen", "/cache/demo/demo-qwen-bcc3989f2431f7de")
    assert not same_model("demo", "/cache/demo/demo-qwen-bcc3989f2431f7de")
    assert same_model("demo", "/cache/demo/demo-111fd5a9a9c4bcf1")
    assert not same_model("demo-qwen", "/cache/demo/demo-qwen-128-df84ec5798a2055c")


def test_the_third_demo_model_shares_the_demo_models_planted_directions() -> None:
    """What makes transfer from `demo` to `demo-qwen-128` a known truth (the demo's study, test_demo_run.py)."""
    import torch

    from steer_eval.demo.model import planted_directions

    demo, twin = planted_directions(DEMO_MODELS["demo"]), planted_directions(DEMO_MODELS["demo-qwen-128"])
    assert all(torch.equal(demo[b], twin[b]) for b in demo)
    assert DEMO_MODELS["demo-qwen-128"].architecture != DEMO_MODELS["demo"].architecture


@pytest.fixture(scope="module")
def qwen_vectors(tmp_path_factory) -> dict[str, Path]:
    from steer_eval.demo.run import planted_vector
    from steer_eval.vectors.format import save_vector

    folder = tmp_path_factory.mktemp("qwen")
    recipe = DEMO_MODELS["demo-qwen"]
    return {b: save_vector(planted_vector(b, recipe), folder / f"planted-{b}.safetensors") for b in ("mood", "style")}


def test_the_second_models_truth_holds_by_construction(qwen_vectors, tmp_path: Path) -> None:
    """Its planted pushes (3 scales along each direction, at its own planted block) move its own behaviour
    and not the other one; its capabilities are learnt."""
    output = tmp_path / "run"
    assert main(["--model", "demo-qwen", "--vectors", *map(str, qwen_vectors.values()), "--tasks",
                 "demo_sentiment,demo_sycophancy,demo_facts", "--alphas", "1", "--limit", "120", "--device", "cpu",
                 "--output", str(output)]) == 0  # fmt: skip
    effects = pd.read_csv(output / "effects.csv").set_index(["vector", "task"])
    assert effects.loc[("planted-mood.safetensors", "demo_facts")].baseline >= 0.9, "recall is learnt"
    assert effects.loc[("planted-mood.safetensors", "demo_sentiment")].delta > 0.2
    assert effects.loc[("planted-style.safetensors", "demo_sycophancy")].delta > 0.2
    assert abs(effects.loc[("planted-style.safetensors", "demo_sentiment")].delta) < 0.05
    assert effects.loc[("planted-mood.safetensors", "demo_sentiment")].verdict == "helps"


def test_both_demo_models_in_one_study_with_recipes(tmp_path: Path, capsys) -> None:
    output = tmp_path / "study"
    recipe = "pasf:demo_sentiment:strengths=1,2,4"  # the second model needs more than 1 (its validation says so)
    assert main(["--model", "demo", "--model", "demo-qwen", "--vectors", recipe,
                 "--tasks", "demo_sentiment,demo_facts", "--alphas", "selected", "--limit", "80", "--device", "cpu",
                 "--output", str(output)]) == 0  # fmt: skip
    study = json.loads((output / "study.json").read_text())
    assert set(study["models"]) == {"demo", "demo-qwen"}
    effects = pd.read_csv(output / "effects.csv")
    mood = effects[effects.task == "demo_sentiment"].set_index("model")
    assert set(mood.index) == {"demo", "demo-qwen"} and (mood.delta > 0.15).all(), "the recipe steers both models"
    assert f"{recipe}: helps on 2 of 2 models" in capsys.readouterr().out
    layers = {m: json.loads((output / "models" / m / "manifest.json").read_text())["model"]["hidden_size"]
              for m in ("demo", "demo-qwen")}  # fmt: skip
    assert layers == {"demo": 128, "demo-qwen": 96}


def test_a_vector_of_one_demo_model_is_refused_on_the_other(tmp_path: Path, capsys) -> None:
    from steer_eval.demo.run import planted_vector
    from steer_eval.vectors.format import save_vector

    vector = save_vector(planted_vector("mood", DEMO_MODELS["demo"]), tmp_path / "mood.safetensors")
    assert main(["--model", "demo-qwen", "--vectors", str(vector), "--tasks", "demo_sentiment", "--output",
                 str(tmp_path / "run"), "--dry-run"]) == EXIT_BAD_INPUT  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "size 128" in err and "hidden size is 96" in err, err
