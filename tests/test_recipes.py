"""Methods as recipes (issue 20): `--vectors caa:TASK` builds the vector for the run's model (layer and strength
chosen on the task's validation split), caches it in the run folder keyed by model, recipe and data, labels it
with the recipe (so the same recipe on another model lines up in a comparison), and records it in the
manifest like a file. A re-run reuses the file; another model builds its own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tiny import perturbed_demo

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError
from steer_eval.vectors.recipes import parse_recipe

RECIPE = "pasf:demo_sentiment:layers=1-2:strengths=0.5,1"


def test_recipes_parse_and_files_are_not_recipes(tmp_path: Path) -> None:
    recipe = parse_recipe(RECIPE)
    assert recipe is not None and (recipe.method, recipe.task) == ("pasf", "demo_sentiment")
    assert dict(recipe.options) == {"layers": "1-2", "strengths": "0.5,1"}
    odd = tmp_path / "caa:odd.safetensors"
    odd.write_bytes(b"")
    assert parse_recipe(str(odd)) is None and parse_recipe("vectors/mood.safetensors") is None
    with pytest.raises(SteerEvalError, match="'cca' is not a method"):
        parse_recipe("cca:demo_sentiment")
    with pytest.raises(SteerEvalError, match="'depth=3' is not a recipe option"):
        parse_recipe("caa:demo_sentiment:depth=3")


def _run(model: str, output: Path, *extra: str) -> int:
    return main(["--model", model, "--vectors", RECIPE, "--tasks", "demo_sentiment", "--alphas", "selected",
                 "--limit", "40", "--device", "cpu", "--output", str(output), *extra])  # fmt: skip


def test_a_recipe_is_built_per_model_cached_and_labelled_by_itself(demo_dir, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _run("demo", run) == 0
    built = list((run / "vectors" / "recipes").glob("*.safetensors"))
    assert len(built) == 1
    manifest = json.loads((run / "manifest.json").read_text())
    entry = manifest["vectors"][RECIPE]
    assert entry["recipe"] == RECIPE and entry["method"] == "pasf" and entry["path"] == str(built[0])
    assert entry["selected"]["layer"] in (1, 2) and entry["selected"]["alpha"] in (0.5, 1.0)
    effects = pd.read_csv(run / "effects.csv")
    assert list(effects.vector) == [RECIPE] and effects.delta.iloc[0] > 0.15, "the built mood vector moves the mood"
    stamp = built[0].stat().st_mtime_ns
    assert _run("demo", run) == 0 and built[0].stat().st_mtime_ns == stamp, "the re-run reuses the built file"
    other = perturbed_demo(demo_dir, tmp_path / "demo-perturbed")
    assert _run(str(other), tmp_path / "other") == 0  # another model: its own build
    rebuilt = json.loads((tmp_path / "other" / "manifest.json").read_text())["vectors"][RECIPE]
    assert Path(rebuilt["path"]).name != built[0].name and Path(rebuilt["path"]).is_file()


@pytest.mark.parametrize(
    ("vectors", "extra", "words"),
    [
        ("caa:demo_mood_gen", (), "is a generation task"),
        ("caa:no_such_task", (), "no_such_task"),
        (RECIPE, ("--model-args", "peft=/nowhere"), "no such adapter folder"),
    ],
)
def test_bad_recipes_are_one_line(demo_dir, tmp_path: Path, capsys, vectors: str, extra: tuple, words: str) -> None:
    code = main(["--model", "demo", "--vectors", vectors, "--tasks", "demo_sentiment", "--output",
                 str(tmp_path / "run"), "--dry-run", *extra])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT and len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err
