"""The analysis end to end: on the demo world its verdicts match the documented ground truth, and a
constructed letter-bias vector (it only raises answer letter A) is flagged as an option-order artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from steer_eval.run.config import RunConfig
from steer_eval.run.main import run
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
from steer_eval.vocab import PositionMode, Site


@pytest.fixture(scope="module")
def ground_truth_run(demo_dir: Path, tmp_path_factory):
    from steer_eval.demo.ground_truth import BEHAVIOURS, behaviour_vector
    from steer_eval.steering.lm_model import SteerEvalLM

    lm = SteerEvalLM(pretrained=str(demo_dir), device="cpu", batch_size=64)
    folder = tmp_path_factory.mktemp("ground-truth")
    paths = [save_vector(behaviour_vector(lm, b), folder / f"{b}.safetensors") for b in BEHAVIOURS]
    config = RunConfig(model="demo", vectors=paths, tasks=["demo"], alphas=[-1.0, 1.0, 2.0, 8.0], controls=["random"],
                       device="cpu", batch_size="64", output=folder / "run")  # fmt: skip
    return run(config, progress=False).analysis


OWN = {"sentiment.safetensors": "demo_sentiment", "sycophancy.safetensors": "demo_sycophancy"}
CAPABILITIES = ("demo_facts", "demo_compare")


def test_demo_verdicts_match_the_ground_truth(ground_truth_run) -> None:
    e = ground_truth_run.effects
    mine = e[~e.is_control]
    for vector, task in OWN.items():
        own = mine[(mine.vector == vector) & (mine.task == task)].set_index("alpha")
        # the vector moves its behaviour up at strengths 1 and 2 and down at -1, beyond its placebo
        assert own.loc[1.0, "verdict"] == "helps" and own.loc[2.0, "verdict"] == "helps", own.verdict.to_dict()
        assert own.loc[-1.0, "verdict"] == "hurts"
        assert own.loc[1.0, "vs_placebo_delta"] > 0 and own.loc[1.0, "propensity_delta"] > 0
        # it never improves a capability, and at strength 8 it breaks at least one
        capability = mine[(mine.vector == vector) & mine.task.isin(CAPABILITIES)]
        assert not (capability.verdict == "helps").any()
        assert (capability[capability.alpha == 8.0].verdict == "hurts").any()
    # dose-response: each vector's own propensity rises with strength (positive steerability, monotone)
    dose = ground_truth_run.dose
    for vector, task in OWN.items():
        row = dose[(dose.vector == vector) & (dose.task == task)].iloc[0]
        assert row.steerability_mean > 0 and row.monotonicity_rho > 0.5
    # the placebos do not help their vectors' tasks
    controls = e[e.is_control]
    for vector, task in OWN.items():
        assert not (controls[(controls.control_of == vector) & (controls.task == task)].verdict == "helps").any()


def test_a_letter_bias_vector_is_flagged_as_an_artifact(real_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steer_eval.tasks import registry
    from steer_eval.tasks.items import MCItem
    from steer_eval.tasks.lmeval_adapter import UTILS, render_yaml

    # a task whose correct answer is always the first option in the original order
    def items(_folder):
        make = lambda i: MCItem(f"q{i}", f"Question {i}: which one?", ("red", "green", "blue", "small"), 0)  # noqa: E731
        return {
            "train": [make(i) for i in range(4)],
            "validation": [make(i) for i in range(4)],
            "test": [make(i) for i in range(60)],
        }

    spec = registry.TaskSpec(
        "test_letter_prior", "behavior", "test", "target: the first option; wanted", "a test", "none", items
    )
    registry.register(spec)
    try:
        include = tmp_path / "tasks"
        include.mkdir()
        (include / "se_test_letter_prior.yaml").write_text(render_yaml(spec))
        (include / "utils.py").write_text(UTILS)
        # the vector: at the last block's output, the unembedding of " A" minus that of the other letters
        model = AutoModelForCausalLM.from_pretrained(real_model_dir)
        tokenizer = AutoTokenizer.from_pretrained(real_model_dir)
        ids = [tokenizer(f" {letter}", add_special_tokens=False)["input_ids"][-1] for letter in "ABCD"]
        unembed = model.get_output_embeddings().weight.detach()
        direction = unembed[ids[0]] - unembed[ids[1:]].mean(dim=0)
        last = model.config.num_hidden_layers - 1
        vector = SteeringVector(
            {SiteKey(Site.RESID, last): direction}, VectorMeta(method="letter-bias", positions=PositionMode.LAST_PROMPT)
        )
        path = save_vector(vector, tmp_path / "letter_a.safetensors")
        config = RunConfig(model=str(real_model_dir), vectors=[path], tasks=["test_letter_prior"], alphas=[30.0],
                           option_orders=4, include_path=str(include), output=tmp_path / "run")  # fmt: skip
        effects = run(config, progress=False).analysis.effects
    finally:
        registry._REGISTRY.pop("test_letter_prior")
    original = effects[effects.option_order == 0].iloc[0]
    assert original.delta > 0.3  # at the original order the letter bias looks like a large gain
    rotated = effects[effects.option_order > 0]
    assert (rotated.delta <= 0).all() and (rotated.delta < 0).any()  # where the answer is not A, it loses
    assert original.verdict == "artifact", original.verdict_reason
    assert original.letter_share > 0.5 and np.isfinite(original.pooled_delta)
    assert torch.isfinite(direction).all()
