"""Several models in one run folder (issue 20): `--model demo --model OTHER --vectors RECIPE FILE` runs the job on
each model into OUTPUT/models/NAME (recipes built per model), then writes the models side by side in OUTPUT:
effects.csv with a model column, the comparison and a report page that renders. A model that fails does not
take the others' finished cells with it, and the message names both."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from browser import assert_renders, render
from tiny import perturbed_demo

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT

RECIPE = "pasf:demo_sentiment:layers=1-2:strengths=0.5,1"


@pytest.fixture(scope="module")
def other_model(demo_dir, tmp_path_factory) -> Path:
    return perturbed_demo(demo_dir, tmp_path_factory.mktemp("models") / "perturbed")


def _args(models: list[str], output: Path, *extra: str, vectors: tuple[str, ...] = (RECIPE,)) -> list[str]:
    return [*(a for m in models for a in ("--model", m)), "--vectors", *vectors, "--tasks",
            "demo_sentiment,demo_facts", "--alphas", "1", "--limit", "40", "--device", "cpu", "--output", str(output),
            *extra]  # fmt: skip


def test_two_models_run_into_one_folder_and_are_compared(other_model, mood_vector, tmp_path: Path, capsys) -> None:
    """A recipe is built for each model; a file built for the demo model is a transfer cell on the other one."""
    output = tmp_path / "study"
    vectors = (RECIPE, str(mood_vector))  # a file built for the demo model
    assert main(_args(["demo", str(other_model)], output, "--dry-run", vectors=vectors)) == 0
    planned = capsys.readouterr().out
    assert planned.count("grid: ") == 2 and "model demo:" in planned and f"model {other_model}:" in planned
    assert main(_args(["demo", str(other_model)], output, vectors=vectors)) == 0
    printed = capsys.readouterr().out
    assert "across models:" in printed and f"{RECIPE}: helps on" in printed
    folders = {p.name for p in (output / "models").iterdir()}
    assert folders == {"demo", "perturbed"}
    built = [list((output / "models" / f / "vectors" / "recipes").glob("*.safetensors")) for f in sorted(folders)]
    assert [len(b) for b in built] == [1, 1] and built[0][0].name != built[1][0].name, "one build per model"
    effects = pd.read_csv(output / "effects.csv")
    assert set(effects.model) == {"demo", str(other_model)} and set(effects.vector) == {RECIPE, "mood.safetensors"}
    assert len(effects) == 2 * 2 * 2  # 2 models x 2 vectors x 2 tasks x 1 strength
    transfer = effects.set_index(["model", "vector"])["built_for"]
    assert transfer.loc[(str(other_model), "mood.safetensors")].eq("demo").all(), "another model's vector"
    assert (
        transfer.loc[("demo", "mood.safetensors")].isna().all()
        and transfer.loc[(str(other_model), RECIPE)].isna().all()
    )
    study = json.loads((output / "study.json").read_text())
    assert set(study["models"]) == {"demo", str(other_model)} and study["failed"] == {}
    versus = pd.DataFrame(json.loads((output / "comparison.json").read_text())["versus"])
    assert set(versus.test) == {"paired"} and len(versus) == 4
    html = (output / "report.html").read_text()
    assert 'href="models/demo/report.html"' in html
    assert_renders(render(output / "report.html"), "steer-eval comparison", 800)


def test_a_failing_model_leaves_the_others_and_is_named(tmp_path: Path, capsys) -> None:
    output = tmp_path / "study"
    missing = str(tmp_path / "no-such-model")
    assert main(_args(["demo", missing], output)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()  # the finished model's progress bars, then one line
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("steer-eval: error: 1 of 2 models failed"), err[-2000:]
    assert missing in errors[0] and errors[0].endswith("finished: demo") and "Traceback" not in err
    assert list((output / "models" / "demo" / "cells").glob("*.json")), "the finished model's cells stay"


def test_the_same_model_twice_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(_args(["demo", "demo"], tmp_path / "study")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--model demo is given twice" in err
