"""The analysis of a run store: verdict rules (helps, hurts, non-inferior, no detectable effect,
inconclusive, artifact), direction of unwanted behaviours, the placebo gate, corrections across cells,
dose-response measures, and the files and DataFrame it produces. Run stores here are synthetic (known
outcomes) but written and read through the real run store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis import Settings, analyze, effects_frame
from steer_eval.errors import SteerEvalError
from steer_eval.run.grid import Cell


def _flip(base: np.ndarray, rate_up: float, rate_down: float, rng) -> np.ndarray:
    out = base.copy()
    out[(base == 0) & (rng.random(len(base)) < rate_up)] = 1
    out[(base == 1) & (rng.random(len(base)) < rate_down)] = 0
    return out


@pytest.fixture
def analysed(tmp_path: Path):
    rng = np.random.default_rng(0)
    run = SyntheticRun(tmp_path / "run")
    vec, ctl = vector_ref("v.safetensors"), vector_ref("random(v)", control_of="v.safetensors")
    # behaviour task, more of the target wanted
    beh = task_ref("beh")
    base = (rng.random(400) < 0.5).astype(float)
    run.add(Cell(beh, 0, 0), base)
    run.add(Cell(beh, 0, 0, vec, 2.0, 3), _flip(base, 0.5, 0.02, rng))  # a large gain
    run.add(Cell(beh, 0, 0, ctl, 2.0, 3), _flip(base, 0.03, 0.03, rng))  # placebo: nothing
    run.add(Cell(beh, 0, 0, vec, 4.0, 3), _flip(base, 0.5, 0.02, rng))
    run.add(Cell(beh, 0, 0, ctl, 4.0, 3), _flip(base, 0.5, 0.02, rng))  # placebo does as much
    run.add(Cell(beh, 0, 0, vec, 1.0, 3), _flip(base, 0.02, 0.02, rng))  # no effect, n = 400
    # unwanted behaviour (target = the sycophantic answer): fewer target answers is the help
    syc = task_ref("syc", target_is_desired=False)
    base_s = (rng.random(300) < 0.7).astype(float)
    run.add(Cell(syc, 0, 0), base_s)
    run.add(Cell(syc, 0, 0, vec, 2.0, 3), _flip(base_s, 0.0, 0.5, rng))
    run.add(Cell(syc, 0, 0, vec, -2.0, 3), _flip(base_s, 0.8, 0.0, rng))
    # capability tasks: one untouched (non-inferior), one broken, one too small to tell
    cap = task_ref("cap", kind="intelligence")
    base_c = (rng.random(1000) < 0.7).astype(float)
    run.add(Cell(cap, 0, 0), base_c)
    run.add(Cell(cap, 0, 0, vec, 2.0, 3), base_c.copy())
    run.add(Cell(cap, 0, 0, vec, 4.0, 3), _flip(base_c, 0.0, 0.4, rng))
    tiny = task_ref("tiny", kind="intelligence")
    base_t = (rng.random(12) < 0.5).astype(float)
    run.add(Cell(tiny, 0, 0), base_t)
    run.add(Cell(tiny, 0, 0, vec, 2.0, 3), _flip(base_t, 0.1, 0.1, np.random.default_rng(5)))
    # a letter-prior artifact: a gain at the original order, losses under rotated orders
    let = task_ref("letters")
    base_l = (rng.random(300) < 0.3).astype(float)
    for order, (up, down) in enumerate(((0.6, 0.0), (0.0, 0.5), (0.0, 0.5))):
        run.add(Cell(let, 0, order), base_l)
        run.add(Cell(let, 0, order, vec, 2.0, 3), _flip(base_l, up, down, rng))
    run.finish()
    return tmp_path / "run", analyze(tmp_path / "run")


def _row(effects: pd.DataFrame, task: str, alpha: float, vector: str = "v.safetensors", order: int = 0) -> pd.Series:
    match = effects[
        (effects.task == task) & (effects.alpha == alpha) & (effects.vector == vector) & (effects.option_order == order)
    ]
    assert len(match) == 1
    return match.iloc[0]


def test_verdict_rules(analysed) -> None:
    _, analysis = analysed
    e = analysis.effects
    assert _row(e, "beh", 2.0).verdict == "helps"
    assert _row(e, "beh", 4.0).verdict == "inconclusive" and "random control" in _row(e, "beh", 4.0).verdict_reason
    assert _row(e, "beh", 1.0).verdict == "no detectable effect" and _row(e, "beh", 1.0).mde < 0.10
    assert _row(e, "syc", 2.0).verdict == "helps" and _row(e, "syc", 2.0).delta < 0  # less sycophancy
    assert _row(e, "syc", -2.0).verdict == "hurts" and _row(e, "syc", -2.0).delta > 0
    assert _row(e, "cap", 2.0).verdict == "non-inferior"
    assert _row(e, "cap", 4.0).verdict == "hurts"
    assert _row(e, "tiny", 2.0).verdict == "inconclusive" and _row(e, "tiny", 2.0).mde > 0.10
    letters = _row(e, "letters", 2.0)
    assert letters.verdict == "artifact" and letters.orders == 3 and letters.letter_share > 0.8


def test_corrections_are_statsmodels_over_the_cells_a_user_looks_at(analysed) -> None:
    _, analysis = analysed
    e = analysis.effects
    family = e[(~e.is_control) & (e.option_order == 0)]
    holm = multipletests(family.p_value, method="holm")[1]
    bh = multipletests(family.p_value, method="fdr_bh")[1]
    assert np.allclose(family.q_holm, holm) and np.allclose(family.q_bh, bh)
    assert np.allclose(family.q_value, family.q_holm)
    bh_analysis = analyze(analysed[0], Settings(correction="bh"))
    mine = bh_analysis.effects[(~bh_analysis.effects.is_control) & (bh_analysis.effects.option_order == 0)]
    assert np.allclose(mine.q_value, mine.q_bh)
    with pytest.raises(SteerEvalError, match="unknown correction"):
        analyze(analysed[0], Settings(correction="bonferroni"))


def test_files_and_dataframe(analysed) -> None:
    folder, analysis = analysed
    analysis.write(folder)
    table = pd.read_csv(folder / "effects.csv")
    required = ["task", "kind", "family", "vector", "alpha", "layer", "site", "positions", "fewshot", "n",
                "train_overlap", "baseline", "steered", "delta", "ci_low", "ci_high", "p_value", "q_value",
                "verdict"]  # fmt: skip
    conditions = ["option_order", "template", "pressure", "turns", "in_distribution", "condition"]
    assert list(table.columns[: len(required) + 6]) == [*required[:9], *conditions, *required[9:]]
    assert len(table) == len(analysis.effects) == len(effects_frame(folder))
    results = json.loads((folder / "results.json").read_text())
    assert results["settings"]["correction"] == "holm" and results["verdict_counts"]["helps"] >= 2
    assert {"effects", "dose_response", "subgroups", "groups", "breakdown"} <= set(results)


def test_steerability_of_items_with_known_slopes(tmp_path: Path) -> None:
    run = SyntheticRun(tmp_path / "run")
    task, vec = task_ref("t"), vector_ref("v.safetensors")
    slopes = np.array([1.0] * 30 + [-1.0] * 10)
    correct = np.ones(40)
    for alpha in (0.0, -2.0, 1.0, 2.0, 4.0):
        cell = Cell(task, 0, 0) if alpha == 0 else Cell(task, 0, 0, vec, alpha, 1)
        run.add(cell, correct, 0.5 + slopes * alpha)
    run.finish()
    dose = analyze(tmp_path / "run").dose.iloc[0]
    assert dose.anti_steerable == pytest.approx(0.25) and dose.steerability_mean == pytest.approx(0.5)
    assert dose.anti_steerable_ci_low < 0.25 < dose.anti_steerable_ci_high
    assert dose.monotonicity_rho == pytest.approx(1.0) and dose.strengths == [-2.0, 0.0, 1.0, 2.0, 4.0]
    assert dose.strength_points == 5
    # the baseline and two strengths: rho could only be +-1 or +-0.5, so it is not given
    few = SyntheticRun(tmp_path / "few")
    for alpha in (0.0, 1.0, 2.0):
        few.add(Cell(task, 0, 0) if alpha == 0 else Cell(task, 0, 0, vec, alpha, 1), correct, 0.5 + slopes * alpha)
    few.finish()
    dose = analyze(tmp_path / "few").dose.iloc[0]
    assert np.isnan(dose.monotonicity_rho) and dose.strength_points == 3 and dose.steerability_mean > 0


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(SteerEvalError, match="not a steer-eval run folder"):
        analyze(tmp_path)


def test_analyze_command(analysed, capsys) -> None:
    from steer_eval.cli import main

    folder, _ = analysed
    assert main(["analyze", str(folder), "--correction", "bh"]) == 0
    out = capsys.readouterr().out
    assert "bh correction" in out and "helps:" in out and (folder / "effects.csv").is_file()
    assert main(["analyze", str(folder.parent / "missing")]) == 2
    assert "not a steer-eval run folder" in capsys.readouterr().err


def test_pooled_rows_count_wanted_answers_over_groups_families_and_kinds(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    run = SyntheticRun(tmp_path / "run")
    vec = vector_ref("v.safetensors")
    wanted = task_ref("wanted", family="alignment")
    unwanted = task_ref("unwanted", target_is_desired=False, family="alignment")
    probe = task_ref("probe", target_is_desired=None, family="alignment")
    bases = {t.name: (rng.random(n) < 0.5).astype(float) for t, n in ((wanted, 200), (unwanted, 100), (probe, 50))}
    steered = {
        "wanted": _flip(bases["wanted"], 0.4, 0.0, rng),  # more of a wanted target
        "unwanted": _flip(bases["unwanted"], 0.0, 0.6, rng),  # less of an unwanted one: also a help
        "probe": _flip(bases["probe"], 0.9, 0.0, rng),  # no direction: left out
    }
    for task in (wanted, unwanted, probe):
        run.add(Cell(task, 0, 0), bases[task.name])
        run.add(Cell(task, 0, 0, vec, 2.0, 3), steered[task.name])
    run.finish()
    groups = analyze(tmp_path / "run").groups.set_index("group")
    assert set(groups.index) == {"alignment", "behavior"} and set(groups["level"]) == {"family", "kind"}
    row = groups.loc["alignment"]
    gained = (steered["wanted"] - bases["wanted"]).sum() - (steered["unwanted"] - bases["unwanted"]).sum()
    assert row["tasks"] == 2 and row["n"] == 300
    assert row["delta"] == pytest.approx(gained / 300) and row["delta"] > 0.2
    assert row["ci_low"] > 0 and row["p_value"] < 0.001


def test_train_overlap_is_counted_from_the_run_folder_with_one_note_per_unknown(tmp_path: Path) -> None:
    from steer_eval.vectors.provenance import SCHEME

    run = SyntheticRun(tmp_path / "run")
    task = task_ref("t")
    hashes = [f"{i:016x}" for i in range(40)]
    refs = {name: vector_ref(name) for name in ("built", "imported", "rehashed", "old-cells")}
    control = vector_ref("random(built)", control_of="built")
    correct = np.ones(40)
    run.add(Cell(task, 0, 0), correct, np.zeros(40), questions=hashes)
    for name, ref in refs.items():
        for alpha in (2.0, 4.0):
            questions = None if name == "old-cells" else hashes
            run.add(Cell(task, 0, 0, ref, alpha, 1), correct, np.full(40, alpha), questions=questions)
    run.add(Cell(task, 0, 0, control, 2.0, 1), correct, np.zeros(40), questions=hashes)
    trained = {"task": "u", "split": "train", "items": 12, "scheme": SCHEME, "questions": [*hashes[:5], "f" * 16]}
    run.vectors["built"]["trained_on"] = run.vectors["old-cells"]["trained_on"] = trained
    run.vectors["imported"]["trained_on"] = None
    run.vectors["rehashed"]["trained_on"] = {**trained, "scheme": "another"}
    run.vectors["random(built)"]["trained_on"] = None
    run.finish()
    analysis = analyze(tmp_path / "run")
    overlap = analysis.effects.set_index(["vector", "alpha"])["train_overlap"]
    assert overlap["built"].tolist() == [5, 5]
    assert overlap["old-cells"].tolist() == [5, 5]  # cells without hashes: their baseline's (the same items)
    assert overlap[["imported", "rehashed", "random(built)"]].isna().all()
    assert analysis.train_overlap == [
        f"{name} saw 5 of 40 test items of t in training (it was built on u's train split)"
        for name in ("built", "old-cells")
    ]
    assert [n for n in analysis.notes if "saw" not in n] == [
        "imported records no training data (built elsewhere, imported, or by an older steer-eval): train_overlap "
        "is empty for its cells",
        f"rehashed hashed its training questions as 'another', this steer-eval as {SCHEME!r}: train_overlap is "
        "empty for its cells; rebuild the vector to count them",
    ]  # one per vector, none for the control
    analysis.write(tmp_path / "run")
    written = pd.read_csv(tmp_path / "run" / "effects.csv").set_index(["vector", "alpha"])["train_overlap"]
    assert written["built"].tolist() == [5, 5] and written["imported"].isna().all()  # a count, or empty


def test_pooled_rows_of_graded_scores_keep_the_grades(tmp_path: Path) -> None:
    """Two free-text tasks scored as shares of 5 draws, each losing ~15 points: pooled, they were cast to
    0/1 (any share above 0 a wanted answer) and read baseline 1.0, steered 1.0, delta 0, p 1."""
    rng = np.random.default_rng(4)
    run = SyntheticRun(tmp_path / "run")
    vec = vector_ref("v.safetensors")
    for name in ("gen_a", "gen_b"):
        task = task_ref(name, family="freetext")
        base = rng.integers(2, 6, 150) / 5  # 0.4 .. 1.0: never 0
        steered = np.clip(base - rng.choice([0.0, 0.2, 0.2, 0.4], 150), 0.2, 1.0)
        run.add(Cell(task, 0, 0), base)
        run.add(Cell(task, 0, 0, vec, 2.0, 3), steered)
    run.finish()
    analysis = analyze(tmp_path / "run")
    singles = analysis.effects[analysis.effects["vector"] == "v.safetensors"]["delta"]
    row = analysis.groups.set_index("group").loc["freetext"]
    assert row["n"] == 300 and row["baseline"] < 1.0
    assert row["delta"] == pytest.approx(singles.mean()) and row["delta"] < -0.1
    assert row["ci_high"] < 0 and row["p_value"] < 1e-6


def test_placebo_cells_under_a_condition_are_corrected_apart_from_the_vector(tmp_path: Path) -> None:
    """Under another template a vector's q was Holm-corrected together with its 5 placebo draws there: six
    times its p, against p itself for the same numbers at the default condition."""
    from steer_eval.conditions import Condition

    rng = np.random.default_rng(5)
    run = SyntheticRun(tmp_path / "run")
    vec = vector_ref("v.safetensors")
    task = task_ref("beh")
    base = (rng.random(300) < 0.5).astype(float)
    steered = _flip(base, 0.12, 0.02, rng)
    for condition in (Condition(), Condition(template=1)):
        run.add(Cell(task, 0, 0, condition=condition), base)
        run.add(Cell(task, 0, 0, vec, 2.0, 1, condition=condition), steered)
        for draw in range(5):
            control = vector_ref(f"random{draw}(v)", control_of="v.safetensors")
            run.add(Cell(task, 0, 0, control, 2.0, 1, condition=condition), _flip(base, 0.03, 0.03, rng))
    run.finish()
    effects = analyze(tmp_path / "run").effects
    mine = effects[~effects.is_control].set_index("condition")
    assert mine.loc["template=1", "q_value"] == pytest.approx(mine.loc["template=1", "p_value"])
    assert mine.loc["template=1", "q_value"] == pytest.approx(mine.loc["", "q_value"])
