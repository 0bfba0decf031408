"""`steer-eval compare` (issue 20): run folders side by side. Three real runs: the demo model with the planted
mood and style pushes, the demo model with a mood vector of the same name but half the push (same items:
compared paired), and a tiny Llama of another width with a random vector of that name on fewer items
(compared unpaired). The comparison finds the weaker vector weaker, ranks per task family, says across
models where each vector helps, and its page renders in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from browser import assert_renders, render

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT


def _run(output: Path, model: str, vectors: list[Path], limit: int) -> Path:
    tasks = "demo_sentiment,demo_sycophancy"
    assert main(["--model", model, "--vectors", *map(str, vectors), "--tasks", tasks, "--alphas", "0.5,1",
                 "--limit", str(limit), "--device", "cpu", "--output", str(output)]) == 0  # fmt: skip
    return output


@pytest.fixture(scope="module")
def runs(demo_dir, tiny_dir, tmp_path_factory) -> list[Path]:
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.pairs import planted_half
    from steer_eval.demo.run import planted_vector
    from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
    from steer_eval.vocab import Site

    root = tmp_path_factory.mktemp("compare")
    recipe = DemoRecipe()
    full, half, tiny = (root / name for name in ("full", "half", "tiny"))
    for folder in (full, half, tiny):
        folder.mkdir()
    style = save_vector(planted_vector("style", recipe), full / "style.safetensors")
    strong = save_vector(planted_vector("mood", recipe), full / "mood.safetensors")
    weak = save_vector(planted_half("a", recipe), half / "mood.safetensors")
    torch.manual_seed(0)
    random = SteeringVector({SiteKey(Site.RESID, 1): torch.randn(32)}, VectorMeta(per_layer=True, default_layer=1))
    other = save_vector(random, tiny / "mood.safetensors")
    return [
        _run(root / "run-full", "demo", [strong, style], 80),
        _run(root / "run-half", "demo", [weak], 80),
        _run(root / "run-tiny", str(tiny_dir), [other], 40),
    ]


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("comparison")
    assert main(["compare", *map(str, runs), "--output", str(output)]) == 0
    return output


def test_the_table_holds_every_runs_effects_with_model_and_method(compared, runs) -> None:
    table = pd.read_csv(compared / "comparison.csv")
    assert set(table.run) == {"run-full", "run-half", "run-tiny"}
    assert set(table[table.run == "run-tiny"].model) != {"demo"} and set(table[table.run == "run-full"].model) == {
        "demo"
    }
    assert set(table[table.vector == "mood.safetensors"].method) == {"planted", "manual"}
    full = table[(table.run == "run-full") & (table.vector == "mood.safetensors") & (table.task == "demo_sentiment")]
    assert (full.verdict == "helps").any()


def test_each_run_is_tested_against_the_reference_paired_where_the_items_match(compared) -> None:
    versus = pd.DataFrame(json.loads((compared / "comparison.json").read_text())["versus"])
    assert set(versus.reference) == {"run-full"} and set(versus.vector) == {"mood.safetensors"}
    half = versus[(versus.run == "run-half") & (versus.task == "demo_sentiment")].set_index("alpha")
    assert set(half.test) == {"paired"}
    assert half.difference.to_numpy() == pytest.approx((half.delta - half.reference_delta).to_numpy())
    assert half.loc[1.0].difference < -0.1 and half.loc[1.0].q_value < 0.05, "half the push moves the mood less"
    tiny = versus[versus.run == "run-tiny"]
    assert len(tiny) == 4 and set(tiny.test) == {"unpaired"}  # 40 items against 80: other items
    assert versus.q_value.between(0, 1).all() and (versus.q_value >= versus.p_value - 1e-12).all()


def test_the_leaderboard_ranks_per_family_and_the_words_go_across_models(compared) -> None:
    payload = json.loads((compared / "comparison.json").read_text())
    board = pd.DataFrame(payload["leaderboard"])
    demo = board[(board.model == "demo")]
    assert set(demo["strength"]) == {"not selected (every strength shown)"}  # none of these vectors recorded one
    assert board.groupby(["model", "family"])["rank"].min().eq(1).all()
    # two runs of the demo model, each with a mood.safetensors: an entry per run, each counting its own tasks
    effects = pd.DataFrame(payload["effects"])
    mood = demo[(demo.vector == "mood.safetensors") & (demo.alpha == 1.0)]
    assert len(mood) == len(set(mood.run)) * mood.family.nunique() and mood.run.nunique() == 2, mood
    for row in mood.itertuples():
        mine = effects[(effects.run == row.run) & (effects.family == row.family) & (effects.vector == row.vector)]
        assert row.tasks == mine.task.nunique(), (row, mine.task.unique())
    words = next(line for line in payload["summary"] if line.startswith("mood.safetensors"))
    # counted per run where a model has two: the half-strength run of the same model may disagree
    assert "helps in " in words and " of 3 runs of 2 models (" in words and "demo (run-full): demo_sentiment" in words


def test_the_comparison_page_renders(compared) -> None:
    html = (compared / "comparison.html").read_text()
    assert "<script" not in html.lower() and "Leaderboard per task family" in html
    assert_renders(render(compared / "comparison.html"), "steer-eval comparison", 1000)


def test_bad_comparisons_are_one_line(runs, tmp_path: Path, capsys) -> None:
    def refused(*args: str) -> str:
        assert main(["compare", *args, "--output", str(tmp_path / "out")]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        return err

    assert "at least two run folders" in refused(str(runs[0]))
    assert "the same run folder twice" in refused(str(runs[0]), str(runs[0]))
    assert "not a steer-eval run folder" in refused(str(runs[0]), str(tmp_path))
    lone = tmp_path / "other"
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector
    from steer_eval.vectors.format import save_vector

    vector = save_vector(planted_vector("mood", DemoRecipe()), tmp_path / "mood.safetensors")
    assert main(["--model", "demo", "--vectors", str(vector), "--tasks", "demo_facts", "--alphas", "1", "--limit",
                 "10", "--device", "cpu", "--output", str(lone)]) == 0  # fmt: skip
    capsys.readouterr()
    assert "shares no task with the other runs" in refused(str(runs[0]), str(lone))


def test_runs_are_compared_cell_for_cell_with_the_same_fewshot(tmp_path: Path) -> None:
    """Two identical runs, each +20 points at 0-shot and nothing at 5-shot: the 5-shot row of one was
    compared with the 0-shot row of the other (-20 points, q 2e-14, 'paired')."""
    import numpy as np
    from synthetic_run import SyntheticRun, task_ref, vector_ref

    from steer_eval.run.grid import Cell

    rng = np.random.default_rng(0)
    task, vector = task_ref("beh"), vector_ref("v.safetensors")
    base = (rng.random(300) < 0.4).astype(float)
    lifted = np.where(rng.random(300) < 0.33, 1.0, base)
    folders = []
    for name in ("a", "b"):
        run = SyntheticRun(tmp_path / name)
        for shots, steered in ((0, lifted), (5, base)):
            run.add(Cell(task, shots, 0), base)
            run.add(Cell(task, shots, 0, vector, 2.0, 1), steered)
        run.finish()
        folders.append(str(tmp_path / name))
    assert main(["compare", *folders, "--output", str(tmp_path / "cmp")]) == 0
    versus = pd.DataFrame(json.loads((tmp_path / "cmp" / "comparison.json").read_text())["versus"])
    assert sorted(versus["fewshot"]) == [0, 5] and (versus["difference"].abs() < 1e-9).all(), versus


def test_free_text_runs_with_another_scorer_are_not_paired_as_one_measurement(tmp_path: Path) -> None:
    """The same texts read by a lexicon in one run and by a classifier in the other: compare paired them and
    called the change of scorer a significant -50-point regression."""
    from dataclasses import replace

    import numpy as np
    from synthetic_run import SyntheticRun, task_ref, vector_ref

    from steer_eval.run.grid import Cell

    rng = np.random.default_rng(0)
    base = (rng.random(200) < 0.4).astype(float)
    folders = []
    for name, scorer, steered in (("lexicon", "demo_mood", np.ones(200)), ("classifier", "classifier:x:pos", base)):
        task = replace(task_ref("mood_gen"), output="generate_until", scorer=scorer)
        run = SyntheticRun(tmp_path / name)
        run.add(Cell(task, 0, 0), base)
        run.add(Cell(task, 0, 0, vector_ref("v.safetensors"), 1.0, 1), steered)
        run.finish()
        folders.append(str(tmp_path / name))
    assert main(["compare", *folders, "--output", str(tmp_path / "cmp")]) == 0
    payload = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert payload["versus"] == []
    assert any("mood_gen is measured differently across runs" in note for note in payload["notes"]), payload["notes"]
