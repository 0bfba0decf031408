"""The analysis end to end on real models: a constructed letter-bias vector (it only raises answer letter A)
is flagged as an option-order artifact, and two demo vectors applied together are compared with their sum.
(The demo world's planted truth through the whole pipeline: tests/test_demo_run.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from steer_eval.run.config import RunConfig
from steer_eval.run.main import run


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


def test_combined_vectors_and_their_interaction(demo_output, tmp_path: Path) -> None:
    output, _ = demo_output
    paths = [output / "vectors" / "sentiment-pasf.safetensors", output / "vectors" / "sycophancy-pasf.safetensors"]
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
