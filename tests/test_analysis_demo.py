"""The analysis end to end: on the demo world its verdicts match the documented ground truth, and a
constructed letter-bias vector (it only raises answer letter A) is flagged as an option-order artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from steer_eval.run.config import RunConfig
from steer_eval.run.main import run
from steer_eval.vectors.format import save_vector


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
    """docs/demo.md's ground truth through the runner and the analysis. Accuracy saturates on this world (at
    +1 the mood vector makes every reply positive, and so can a same-norm random push) and the style vector
    moves accuracy by 8-15 points on 168 items, about what Holm over 64 cells resolves; so verdicts are
    asserted where accuracy can show them and the dose and the placebo comparison on the propensity."""
    e = ground_truth_run.effects
    mine, controls = e[~e.is_control], e[e.is_control]
    for vector, task in OWN.items():
        own = mine[(mine.vector == vector) & (mine.task == task)].set_index("alpha")
        verdicts = own.verdict.to_dict()
        # up at +1 and +2 (significantly at one of them at least), down at -1
        assert "helps" in (verdicts[1.0], verdicts[2.0]) and "hurts" not in (verdicts[1.0], verdicts[2.0]), verdicts
        assert verdicts[-1.0] == "hurts", verdicts
        assert own.loc[1.0, "ci_low"] > 0 and own.loc[2.0, "ci_low"] > 0 and own.loc[-1.0, "ci_high"] < 0
        propensity = own.propensity_delta
        assert propensity[-1.0] < 0 < propensity[1.0] < propensity[2.0], propensity.to_dict()
        # the same-norm placebo moves the behaviour's propensity far less than the vector
        placebo = controls[(controls.control_of == vector) & (controls.task == task)].set_index("alpha")
        assert abs(placebo.loc[1.0, "propensity_delta"]) < 0.5 * propensity[1.0]
        # it never improves a capability, and at strength 8 it breaks at least one
        capability = mine[(mine.vector == vector) & mine.task.isin(CAPABILITIES)]
        assert not (capability.verdict == "helps").any()
        assert (capability[capability.alpha == 8.0].verdict == "hurts").any()
    # dose-response: each vector's own propensity rises with strength (positive steerability, monotone)
    dose = ground_truth_run.dose
    for vector, task in OWN.items():
        row = dose[(dose.vector == vector) & (dose.task == task)].iloc[0]
        assert row.steerability_mean > 0 and row.monotonicity_rho > 0.5


def test_a_letter_bias_vector_is_flagged_as_an_artifact(real_model_dir: Path, tmp_path: Path) -> None:
    from letter_bias import TASK, letter_prior_task, letter_vector

    with letter_prior_task(tmp_path, real_model_dir) as include:
        path = letter_vector(real_model_dir, tmp_path / "letter_a.safetensors")
        config = RunConfig(model=str(real_model_dir), vectors=[path], tasks=[TASK], alphas=[30.0],
                           option_orders=4, include_path=str(include), output=tmp_path / "run")  # fmt: skip
        effects = run(config, progress=False).analysis.effects
    original = effects[effects.option_order == 0].iloc[0]
    assert original.delta > 0.3  # at the original order the letter bias looks like a large gain
    rotated = effects[effects.option_order > 0]
    assert (rotated.delta <= 0).all() and (
        rotated.delta < 0
    ).any()  # where the answer moved away from its letter, it loses
    assert original.verdict == "artifact", original.verdict_reason
    assert original.letter_share > 0.5 and np.isfinite(original.pooled_delta)


def test_combined_vectors_and_their_interaction(ground_truth_run, tmp_path: Path) -> None:
    paths = [
        Path(info["path"]) for label, info in ground_truth_run.manifest["vectors"].items() if info["control_of"] is None
    ]
    config = RunConfig(model="demo", vectors=paths, tasks=["demo_sentiment"], alphas=[1.0], combine=True,
                       device="cpu", batch_size="64", output=tmp_path / "run")  # fmt: skip
    analysis = run(config, progress=False).analysis
    row = analysis.interactions.iloc[0]
    singles = analysis.effects[
        (analysis.effects.alpha == 1.0) & (analysis.effects.vector.isin([p.name for p in paths]))
    ]
    assert len(singles) == 2 and " + " in row.combination
    combined = analysis.effects[analysis.effects.vector == row.combination].iloc[0]
    assert row.combined_delta == pytest.approx(combined.delta)
    assert row.sum_of_singles == pytest.approx(singles.delta.sum())
    assert row.interaction == pytest.approx(row.combined_delta - row.sum_of_singles)
    assert row.ci_low <= row.interaction <= row.ci_high
