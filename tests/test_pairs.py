"""Factorial pairs (`--combine pairs` / `--combine A+B`, issue 19): each pair's strengths crossed, every
joint cell judged against the sum of its two singles at those strengths, per item, and against a placebo
pair (the first vector with a random one of the second's norm). Synthetic stores check the statistics
(a known interaction is found, one the placebo pair shows as well is not called); the planner is checked on
the demo model; and on the demo world the planted interacting pair (two halves of the mood push, which the
model only answers to together) is told apart from the planted additive pair (mood and style pushes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis import analyze
from steer_eval.analysis.pairs import LESS, MORE, NONE
from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.run.grid import Cell, VectorRef

A, B = vector_ref("a.safetensors"), vector_ref("b.safetensors")
NOISE = vector_ref("random(b.safetensors, seed 0)", control_of="b.safetensors")


def _pair(second: VectorRef, alphas: tuple[float, float], placebo_for: str | None = None) -> VectorRef:
    label = f"a.safetensors + {second.label}"
    return VectorRef(
        f"a.safetensors x{alphas[0]:g} + {second.label} x{alphas[1]:g}", "a;b", f"sha-{label}-{alphas}",
        members=(A.sha256, second.sha256), member_layers=(None, None), member_alphas=alphas, pair=label,
        placebo_for=placebo_for,
    )  # fmt: skip


def _fixed(base: np.ndarray, items: np.ndarray) -> np.ndarray:
    out = base.copy()
    out[items] = 1.0
    return out


def _run(root: Path, joint_extra: int, placebo_extra: int) -> SyntheticRun:
    """A fixes items 0-29 of the baseline's wrong ones, B items 30-49 (at strength 2 both); together they fix
    those and `joint_extra` more; A with the random vector fixes A's items and `placebo_extra` more (the
    random vector alone fixes nothing). At strength 1 each does nothing and neither do they together."""
    rng = np.random.default_rng(3)
    n, task = 400, task_ref("beh")
    base = (rng.random(n) < 0.4).astype(float)
    wrong = np.flatnonzero(base == 0)
    run = SyntheticRun(root)
    run.add(Cell(task, 0, 0), base)
    for alpha in (1.0, 2.0):
        run.add(Cell(task, 0, 0, A, alpha), _fixed(base, wrong[:30]) if alpha == 2 else base)
        run.add(Cell(task, 0, 0, B, alpha), _fixed(base, wrong[30:50]) if alpha == 2 else base)
        run.add(Cell(task, 0, 0, NOISE, alpha), base)
    for alphas in ((1.0, 1.0), (2.0, 2.0)):
        strong = alphas == (2.0, 2.0)
        run.add(Cell(task, 0, 0, _pair(B, alphas), 1.0), _fixed(base, wrong[: 50 + joint_extra]) if strong else base)
        placebo = _pair(NOISE, alphas, placebo_for="a.safetensors + b.safetensors")
        fixed = np.concatenate([wrong[:30], wrong[50 : 50 + placebo_extra]])
        run.add(Cell(task, 0, 0, placebo, 1.0), _fixed(base, fixed) if strong else base)
    run.finish()
    return run


def test_a_known_interaction_is_found_and_measured_per_item(tmp_path: Path) -> None:
    _run(tmp_path / "run", joint_extra=40, placebo_extra=0)
    analysis = analyze(tmp_path / "run")
    rows = analysis.pairs.set_index(["alpha_first", "alpha_second"])
    strong, weak = rows.loc[(2.0, 2.0)], rows.loc[(1.0, 1.0)]
    assert strong.first_delta == pytest.approx(30 / 400) and strong.second_delta == pytest.approx(20 / 400)
    assert strong.joint_delta == pytest.approx(90 / 400) and strong.additive == pytest.approx(50 / 400)
    assert strong.interaction == pytest.approx(40 / 400) and strong.ci_low > 0
    assert strong.placebo_interaction == pytest.approx(0.0) and strong.verdict == MORE
    assert weak.interaction == 0 and weak.verdict == NONE
    assert analysis.pairs["q_value"].notna().all() and "propensity_interaction" in analysis.pairs
    summary = analysis.pair_summary.iloc[0]
    assert summary.verdict == "interacting" and summary.more_than_additive == 1
    assert "do more together on beh than apart: +22.5 points together where the singles add to +12.5" in summary.words
    # the pair's cells never enter the main tables
    assert not analysis.effects["vector"].str.contains(" x2 + ").any()


def test_an_interaction_the_placebo_pair_shows_too_is_not_called(tmp_path: Path) -> None:
    """Adding any vector of B's norm to A fixes 40 more items here: the pair's +40 is no interaction of A and B."""
    _run(tmp_path / "run", joint_extra=40, placebo_extra=40)
    analysis = analyze(tmp_path / "run")
    strong = analysis.pairs.set_index(["alpha_first", "alpha_second"]).loc[(2.0, 2.0)]
    assert strong.interaction == pytest.approx(0.1) and strong.p_value < 1e-6
    assert strong.vs_placebo_delta == pytest.approx(0.0) and strong.verdict == NONE
    assert analysis.pair_summary.iloc[0].verdict == NONE
    assert "beyond its placebo pair's" in analysis.pair_summary.iloc[0].words


def test_a_vector_that_loses_its_effect_is_put_in_words(tmp_path: Path) -> None:
    _run(tmp_path / "run", joint_extra=-25, placebo_extra=0)  # together they fix 25 items, not 50
    analysis = analyze(tmp_path / "run")
    assert analysis.pairs.set_index(["alpha_first", "alpha_second"]).loc[(2.0, 2.0)].verdict == LESS
    words = analysis.pair_summary.iloc[0].words
    assert words.startswith("a.safetensors x2 loses 83% of its effect on beh when b.safetensors x2 is on"), words
    assert "(+7.5 points alone, +1.2 with it; interaction -6.2 points" in words


@pytest.fixture(scope="module")
def pair_vectors(tmp_path_factory) -> dict[str, Path]:
    from steer_eval.demo.pairs import write_pair_vectors

    return {path.stem: path for path in write_pair_vectors(tmp_path_factory.mktemp("pairs"))}


def test_the_planner_crosses_each_pairs_strengths_at_the_default_setting_only(demo_dir, pair_vectors, tmp_path):
    from steer_eval.run.config import RunConfig
    from steer_eval.run.execute import interventions_for
    from steer_eval.run.prepare import prepare

    names = ["planted-mood-half-a", "planted-mood-half-b", "planted-style"]
    config = RunConfig(model="demo", vectors=[pair_vectors[n] for n in names], tasks=["demo_sentiment_mc"],
                       alphas=[0.5, 1.0], option_orders=2, templates=2, controls=["random:2"], pairs="pairs",
                       output=tmp_path / "run")  # fmt: skip
    prepared = prepare(config, progress=False)
    paired = [c for c in prepared.cells if c.vector is not None and c.vector.pair]
    real = [c for c in paired if not c.vector.placebo_for]
    assert len(real) == 3 * 4 and len(paired) == 2 * 3 * 4  # 3 pairs x 2 x 2 strengths, each with its placebo
    assert {(c.fewshot, c.option_order, c.condition.label) for c in paired} == {(0, 0, "")}
    assert {c.vector.placebo_for for c in paired if c.vector.placebo_for} == {r.vector.pair for r in real}
    assert all("seed 0" in c.vector.label for c in paired if c.vector.placebo_for)  # the first draw
    cell = next(c for c in real if c.vector.member_alphas == (0.5, 1.0))
    assert [i.alpha for i in interventions_for(prepared, cell)] == [0.5, 1.0]
    records = {r["pair"]: r for r in prepared.pairs}
    halves = records["planted-mood-half-a.safetensors + planted-mood-half-b.safetensors"]
    assert halves["cosine"] == pytest.approx(0.0, abs=1e-6) and halves["shared_sites"] == ["resid.1"]
    declared = prepare(dataclasses.replace(config, pairs="planted-mood-half-a+planted-style", controls=[]), False)
    assert {c.vector.pair for c in declared.cells if c.vector is not None and c.vector.pair} == {
        "planted-mood-half-a.safetensors + planted-style.safetensors"
    }


def _bad(tmp_path: Path, vectors: list[Path], combine: str, capsys) -> str:
    code = main(["--model", "demo", "--vectors", *map(str, vectors), "--tasks", "demo_sentiment", "--combine",
                 combine, "--output", str(tmp_path / "run"), "--dry-run"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_combinations_are_one_line(pair_vectors, tmp_path: Path, capsys) -> None:
    half_a, style = pair_vectors["planted-mood-half-a"], pair_vectors["planted-style"]
    err = _bad(tmp_path, [half_a, style], "planted-mood-half-a+planted-mood", capsys)
    assert "'planted-mood', which is not a vector of this run" in err and "planted-style.safetensors" in err
    assert "is not a pair" in _bad(tmp_path, [half_a, style], "planted-mood-half-a+planted-style+x", capsys)
    assert "with itself" in _bad(tmp_path, [half_a, style], "planted-style+planted-style", capsys)
    assert "needs at least two vectors" in _bad(tmp_path, [half_a], "pairs", capsys)
    from steer_eval.vectors.files import read_vector_file
    from steer_eval.vectors.format import SiteKey, SteeringVector, save_vector
    from steer_eval.vocab import Site

    meta = dataclasses.replace(read_vector_file(style).meta, hidden_size=64, model_name=None)
    narrow = SteeringVector({SiteKey(Site.RESID, 1): torch.ones(64)}, meta)
    narrow = save_vector(narrow, tmp_path / "narrow.safetensors")
    err = _bad(tmp_path, [half_a, narrow], "pairs", capsys)
    assert "planted-mood-half-a.safetensors has width 128 and narrow.safetensors width 64" in err


def test_the_planted_interacting_pair_is_told_apart_from_the_additive_one(demo_dir, pair_vectors, tmp_path):
    """On the demo model: the two halves of the mood push do more together than the sum of each alone (the
    model answers to a disposition only when all its directions agree), beyond their placebo pair; the mood
    and style pushes add up on the mood task. Both pairs are orthogonal: the cosine cannot tell them apart."""
    from steer_eval.run.config import RunConfig
    from steer_eval.run.main import run

    names = ["planted-mood-half-a", "planted-mood-half-b", "planted-mood", "planted-style"]
    config = RunConfig(model="demo", vectors=[pair_vectors[n] for n in names], tasks=["demo_sentiment"],
                       alphas=[0.5, 1.0], controls=["random:1"], device="cpu", batch_size="64",
                       pairs="planted-mood-half-a+planted-mood-half-b,planted-mood+planted-style",
                       output=tmp_path / "run")  # fmt: skip
    result = run(config, progress=False)
    summary = result.analysis.pair_summary.set_index("pair")
    halves = summary.loc["planted-mood-half-a.safetensors + planted-mood-half-b.safetensors"]
    additive = summary.loc["planted-mood.safetensors + planted-style.safetensors"]
    assert halves.verdict == "interacting" and halves.more_than_additive >= 3 and halves.less_than_additive == 0
    assert additive.verdict == NONE and additive.more_than_additive == additive.less_than_additive == 0
    assert abs(halves.cosine) < 1e-6 and abs(additive.cosine) < 1e-6
    rows = result.analysis.pairs
    assert rows["placebo_pair"].notna().all()
    assert (rows[rows["pair"] == halves.name]["interaction"] > 0.05).sum() >= 3
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Pairs of vectors" in report and "do more together on demo_sentiment than apart" in report
