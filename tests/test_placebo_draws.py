"""The placebo as a distribution (issue 19): `--controls random` draws five same-norm random vectors per vector
(`random:N` for N), and each vector is judged against the spread of their effects, not against one draw. A
random direction has an effect of its own, so a vector that moves answers no more than random directions do
is not `helps`, however far its one placebo draw happened to land from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis import analyze
from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.run.config import RunConfig
from steer_eval.run.grid import Cell


def test_controls_parse_to_a_number_of_draws() -> None:
    def draws(*controls: str) -> int:
        return RunConfig(model="m", vectors=[Path("v")], controls=list(controls)).placebo_draws

    assert draws() == 0 and draws("random") == 5 and draws("random:1") == 1 and draws("random:12") == 12


@pytest.mark.parametrize(("value", "words"), [("random:0", "random:N must be a whole number >= 1"),
                                               ("random:x", "random:N"), ("gaussian", "unknown control")])  # fmt: skip
def test_bad_controls_are_one_line(tmp_path: Path, capsys, value: str, words: str) -> None:
    vector = tmp_path / "v.safetensors"
    vector.write_bytes(b"")
    code = main(["--model", "demo", "--vectors", str(vector), "--tasks", "demo_sentiment", "--controls", value,
                 "--output", str(tmp_path / "run"), "--dry-run"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT and len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err


def _shifted(base: np.ndarray, rng: np.random.Generator, up: float) -> np.ndarray:
    """Outcomes moved by `up` (a share of items switched towards the target, or away when negative)."""
    out = base.copy()
    if up > 0:
        out[(base == 0) & (rng.random(len(base)) < up / (1 - base.mean()))] = 1
    else:
        out[(base == 1) & (rng.random(len(base)) < -up / base.mean())] = 0
    return out


def _run(root: Path, draws: int, vector_effect: float, placebo_effects: list[float], seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    task = task_ref("behaviour")
    run = SyntheticRun(root)
    base = (rng.random(400) < 0.4).astype(float)
    run.add(Cell(task, 0, 0), base)
    vector = vector_ref("v.safetensors")
    run.add(Cell(task, 0, 0, vector, 2.0, 3), _shifted(base, rng, vector_effect))
    for k, effect in enumerate(placebo_effects[:draws]):
        control = vector_ref(f"random(v.safetensors, seed {k})", control_of="v.safetensors")
        run.add(Cell(task, 0, 0, control, 2.0, 3), _shifted(base, rng, effect))
    run.finish()
    effects = analyze(root).effects
    return effects[effects["vector"] == "v.safetensors"].iloc[0].to_dict()


def test_a_vector_no_better_than_random_directions_is_not_helps_against_five_draws(tmp_path: Path) -> None:
    """Random directions here move answers by -12..+12 points; the vector's +10 stands out from the one draw
    that barely moved (a single-draw placebo calls it `helps`) but not from the five."""
    placebos = [0.0, 0.12, -0.12, 0.08, -0.06]
    one = _run(tmp_path / "one", 1, 0.10, placebos)
    five = _run(tmp_path / "five", 5, 0.10, placebos)
    assert one["verdict"] == "helps" and one["placebo_draws"] == 1
    assert five["verdict"] == "inconclusive" and five["placebo_draws"] == 5
    assert five["placebo_delta_low"] < -0.08 and five["placebo_delta_high"] > 0.08
    assert five["vs_placebo_ci_low"] < 0 < five["vs_placebo_ci_high"]


def test_a_vector_far_beyond_every_draw_still_helps(tmp_path: Path) -> None:
    five = _run(tmp_path / "five", 5, 0.30, [0.0, 0.02, -0.02, 0.01, -0.01])
    assert five["verdict"] == "helps" and five["vs_placebo_p"] < 0.01
    assert five["vs_placebo_delta"] == pytest.approx(five["delta"] - np.mean([0.0, 0.02, -0.02, 0.01, -0.01]), abs=0.02)


@pytest.mark.parametrize(("controls", "warned"), [("random:3", True), ("random:5", False), ("random:1", False)])
def test_two_to_four_draws_get_a_note_on_the_tests_level(
    mood_vector: Path, tmp_path: Path, capsys, controls: str, warned: bool
) -> None:
    code = main(["--model", "demo", "--vectors", str(mood_vector), "--tasks", "demo_sentiment", "--controls",
                 controls, "--output", str(tmp_path / "run"), "--dry-run"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert ("3 placebo draws per vector: the test of a vector against their spread" in err) is warned, err


def test_a_placebo_that_cannot_be_compared_keeps_a_vector_from_helps(tmp_path: Path) -> None:
    """Two of five random draws wrecked nearly every text (no score): the comparison asked for items scored in
    every draw, found none, and was skipped, and the vector was judged `helps` on the baseline alone, at the
    very strength where its placebo fell out."""
    from dataclasses import replace

    rng = np.random.default_rng(1)
    task = replace(task_ref("mood_gen"), output="generate_until", scorer="demo_mood")
    base = (rng.random(200) < 0.3).astype(float)
    wrecked = np.where(rng.random(200) < 0.9, np.nan, base)  # the few texts left read like the baseline

    def analysed(root: Path, draws: list[np.ndarray]) -> dict:
        run = SyntheticRun(root)
        run.add(Cell(task, 0, 0), base)
        run.add(Cell(task, 0, 0, vector_ref("v.safetensors"), 4.0, 1), _shifted(base, rng, 0.4))
        for k, outcome in enumerate(draws):
            run.add(Cell(task, 0, 0, vector_ref(f"random(v, seed {k})", control_of="v.safetensors"), 4.0, 1), outcome)
        run.finish()
        effects = analyze(root).effects
        return effects[effects["vector"] == "v.safetensors"].iloc[0].to_dict()

    plain = [_shifted(base, rng, 0.02) for _ in range(3)]
    # the draws that kept their texts are still a placebo: compared on the items each scored
    row = analysed(tmp_path / "some", [*plain, wrecked, wrecked.copy()])
    assert row["verdict"] == "helps" and row["vs_placebo_p"] < 0.05, row
    # no draw scored enough texts: not `helps`, and the reason says why
    row = analysed(tmp_path / "none", [np.full(200, np.nan), np.full(200, np.nan)])
    assert row["verdict"] == "inconclusive" and "its placebo could not be compared" in row["verdict_reason"], row
