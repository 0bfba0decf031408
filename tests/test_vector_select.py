"""Choosing layer and strength on the validation split, and the random placebo control."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from steer_eval.errors import SteerEvalError, VectorMismatchError
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import interventions_from_vector
from steer_eval.steering.model_map import ModelMap
from steer_eval.tasks import load_split, registry
from steer_eval.vectors.build import BuildSpec, build_vector
from steer_eval.vectors.control import random_like
from steer_eval.vectors.make import BuildRequest, run_build
from steer_eval.vectors.select import score_items, select_on_validation
from steer_eval.vocab import Action, Site


@pytest.fixture(scope="module")
def demo(demo_dir: Path):
    return AutoModelForCausalLM.from_pretrained(demo_dir).eval(), AutoTokenizer.from_pretrained(demo_dir)


def test_score_items_matches_a_hand_count(demo) -> None:
    model, tokenizer = demo
    items = load_split("demo_facts", "validation")[:20]
    from steer_eval.vectors.choices import choice_tokens

    right = 0
    for item in items:
        tokens = choice_tokens(tokenizer, item)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([tokens.context])).logits[0, -1]
        right += int(torch.argmax(logits[tokens.options])) == item.target
    assert score_items(model, tokenizer, items, batch_size=6).accuracy == pytest.approx(right / len(items))


def test_selection_picks_the_best_validation_cell_and_records_the_sweep(demo) -> None:
    model, tokenizer = demo
    vector = build_vector(
        model, tokenizer, BuildSpec("pasf", "demo_sentiment", [1, 2]), load_split("demo_sentiment", "train")
    )
    validation = load_split("demo_sentiment", "validation")
    record = select_on_validation(model, tokenizer, vector, validation, strengths=[1.0, 4.0])
    assert len(record["cells"]) == 4 and record["split"] == "validation"
    best = max(record["cells"], key=lambda c: (c["accuracy"], c["propensity"], -abs(c["alpha"])))
    assert record["chosen"] == {"layer": best["layer"], "alpha": best["alpha"]}
    assert (vector.meta.default_layer, vector.meta.default_alpha) == (best["layer"], best["alpha"])
    assert vector.meta.extra["selection"] is record
    # a recorded cell is reproduced by scoring that layer and strength directly
    steerer = Steerer(model)
    steerer.set_interventions(interventions_from_vector(vector, alpha=4.0, layer=2))
    direct = score_items(model, tokenizer, validation, steerer)
    cell = next(c for c in record["cells"] if c["layer"] == 2 and c["alpha"] == 4.0)
    assert cell["accuracy"] == pytest.approx(direct.accuracy) and cell["propensity"] == pytest.approx(direct.propensity)
    assert record["baseline"]["accuracy"] == pytest.approx(score_items(model, tokenizer, validation).accuracy)


def test_an_unwanted_target_is_selected_against(demo) -> None:
    """Where the task's target is the unwanted behaviour (CAA sycophancy's target is the sycophantic answer),
    selection applies the strengths negated and picks the fewest target answers (METHODS.md, flaw 2)."""
    model, tokenizer = demo
    vector = build_vector(
        model, tokenizer, BuildSpec("pasf", "demo_sentiment", [1, 2]), load_split("demo_sentiment", "train")
    )
    validation = load_split("demo_sentiment", "validation")
    record = select_on_validation(model, tokenizer, vector, validation, strengths=[1.0, 4.0], target_is_desired=False)
    assert {c["alpha"] for c in record["cells"]} == {-1.0, -4.0} and record["target_is_desired"] is False
    best = min(record["cells"], key=lambda c: (c["accuracy"], c["propensity"], abs(c["alpha"])))
    assert record["chosen"] == {"layer": best["layer"], "alpha": best["alpha"]}
    assert record["improves_on_baseline"] == (best["accuracy"] < record["baseline"]["accuracy"])


def test_a_build_with_selection_never_uses_a_test_item(demo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    import steer_eval.vectors.make as make

    requested, seen_ids = [], set()
    real_load, real_build, real_select = registry.load_split, make.build_vector, make.select_on_validation

    def spy_load(name, split, data_dir=None):
        requested.append(split)
        return real_load(name, split, data_dir)

    def spy_build(model, tokenizer, spec, items, *args, **kwargs):
        seen_ids.update(item.id for item in items)
        return real_build(model, tokenizer, spec, items, *args, **kwargs)

    def spy_select(model, tokenizer, vector, items, *args, **kwargs):
        seen_ids.update(item.id for item in items)
        return real_select(model, tokenizer, vector, items, *args, **kwargs)

    monkeypatch.setattr(make, "load_split", spy_load)
    monkeypatch.setattr(make, "build_vector", spy_build)
    monkeypatch.setattr(make, "select_on_validation", spy_select)
    request = BuildRequest(
        BuildSpec("caa", "demo_sycophancy", [2], max_items=50),
        tmp_path / "v.safetensors",
        model=str(demo_dir),
        select_on="validation",
        strengths=[1.0],
        progress=False,
    )
    vector = run_build(request)
    test_ids = {item.id for item in real_load("demo_sycophancy", "test")}
    assert requested == ["train", "validation"] and seen_ids and not seen_ids & test_ids
    assert vector.meta.extra["selection"]["n_items"] == len(real_load("demo_sycophancy", "validation"))
    with pytest.raises(SteerEvalError, match="only 'validation'"):
        run_build(BuildRequest(request.spec, request.output, model=str(demo_dir), select_on="test"))


def test_random_control_copies_shape_and_norms_but_not_direction(demo) -> None:
    model, tokenizer = demo
    vector = build_vector(
        model,
        tokenizer,
        BuildSpec("caa", "demo_sentiment", [1, 2], max_items=60),
        load_split("demo_sentiment", "train"),
    )
    control = random_like(vector, seed=3)
    again, other = random_like(vector, seed=3), random_like(vector, seed=4)
    assert control.keys == vector.keys and control.meta.method == "random"
    assert (control.meta.default_layer, control.meta.positions) == (vector.meta.default_layer, vector.meta.positions)
    for key in vector.keys:
        assert float(control.directions[key].norm()) == pytest.approx(float(vector.directions[key].norm()), rel=1e-5)
        torch.testing.assert_close(control.directions[key], again.directions[key])
        assert not torch.allclose(control.directions[key], other.directions[key])
        cosine = torch.nn.functional.cosine_similarity(control.directions[key], vector.directions[key], dim=0)
        assert abs(float(cosine)) < 0.5  # 128 dimensions: a random direction is nearly orthogonal


def test_random_control_of_au_vector_keeps_unit_count_and_magnitudes(demo) -> None:
    model, tokenizer = demo
    spec = BuildSpec("austeer", "demo_sentiment", None, top_k=9, max_items=60)
    vector = build_vector(model, tokenizer, spec, load_split("demo_sentiment", "train"))
    control = random_like(vector, seed=0)
    assert control.meta.action is Action.AU_SCALE
    for key in vector.keys:
        original, placebo = vector.directions[key], control.directions[key]
        assert int((placebo != 0).sum()) == int((original != 0).sum())
        assert sorted(placebo[placebo != 0].abs().tolist()) == pytest.approx(
            sorted(original[original != 0].abs().tolist())
        )


def test_a_vector_for_another_hidden_size_is_refused(demo, tiny_dir: Path) -> None:
    model, tokenizer = demo
    vector = build_vector(
        model, tokenizer, BuildSpec("caa", "demo_facts", [1], max_items=20), load_split("demo_facts", "train")
    )
    tiny_map = ModelMap.of(AutoModelForCausalLM.from_pretrained(tiny_dir))
    with pytest.raises(VectorMismatchError, match=r"size 128.*32|32.*128"):
        tiny_map.check_fits(vector, "demo vector")


def test_builder_input_errors_are_clear(demo) -> None:
    model, tokenizer = demo
    items = load_split("demo_facts", "train")
    with pytest.raises(SteerEvalError, match="layer 9 does not exist"):
        build_vector(model, tokenizer, BuildSpec("caa", "demo_facts", [9]), items)
    with pytest.raises(SteerEvalError, match="reads resid"):
        build_vector(model, tokenizer, BuildSpec("pasf", "demo_facts", [1], site=Site.MLP), items)
    # One item is answered either right or wrong, never both: PASf has nothing to contrast.
    with pytest.raises(SteerEvalError, match=r"no train item (right|wrong)"):
        build_vector(model, tokenizer, BuildSpec("pasf", "demo_facts", [1]), items[:1])
    with pytest.raises(SteerEvalError, match="unknown method"):
        build_vector(model, tokenizer, BuildSpec("mean", "demo_facts", [1]), items)


def test_per_layer_vectors_apply_one_layer_chosen_by_default_or_by_the_caller(
    demo, demo_dir: Path, tmp_path: Path
) -> None:
    from steer_eval.steering.loading import load_interventions
    from steer_eval.vectors.format import save_vector

    model, tokenizer = demo
    vector = build_vector(
        model, tokenizer, BuildSpec("caa", "demo_facts", [1, 2, 3], max_items=20), load_split("demo_facts", "train")
    )
    path = save_vector(vector, tmp_path / "v.safetensors")
    model_map = ModelMap.of(model)
    assert [i.key.layer for i in load_interventions([path], model_map)] == [2]  # the middle layer by default
    assert [i.key.layer for i in load_interventions([path], model_map, layer=3)] == [3]
    with pytest.raises(SteerEvalError, match=r"v\.safetensors.*layer 0 is not one of them"):
        load_interventions([path], model_map, layer=0)


def test_cli_refuses_a_control_for_another_models_size(demo, tiny_dir: Path, tmp_path: Path, capsys) -> None:
    from steer_eval.cli import main
    from steer_eval.vectors.format import save_vector

    model, tokenizer = demo
    vector = build_vector(
        model, tokenizer, BuildSpec("caa", "demo_facts", [1], max_items=20), load_split("demo_facts", "train")
    )
    save_vector(vector, tmp_path / "demo.safetensors")
    args = [
        "vectors",
        "build",
        "--method",
        "random",
        "--like",
        str(tmp_path / "demo.safetensors"),
        "--model",
        str(tiny_dir),
    ]
    assert main([*args, "-o", str(tmp_path / "r.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "size 128" in err and "32" in err and "demo" in err
