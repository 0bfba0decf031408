"""The validation-selected strength (`selected`): built into a vector by `vectors build --select-on
validation`, run by `--alphas ...,selected` (and by default), run at the same strength by the vector's
placebo, marked in effects.csv and the report, usable as `alpha: selected` in a check spec, one clear error
for a vector that recorded none, and the same cell (same key) as the number it stands for."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_page import cell_table

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError
from steer_eval.run.config import DEFAULT_ALPHAS, RunConfig
from steer_eval.run.prepare import prepare
from steer_eval.vectors.format import load_vector, save_vector

# Strengths for the selection sweep that the default grid (-4,-2,2,4,8) does not hold (negated, too, where
# a task's target is unwanted), so the selected strength is always an extra cell.
SWEEP = "1,3"


@pytest.fixture(scope="module")
def selected_vector(demo_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("selected") / "sentiment.safetensors"
    args = ["vectors", "build", "--method", "pasf", "--model", "demo", "--task", "demo_sentiment", "--layers", "1-2"]
    assert main([*args, "--select-on", "validation", "--strengths", SWEEP, "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def plain_vector(selected_vector: Path, tmp_path_factory) -> Path:
    """The same vector without its selection record (as if built without --select-on, or imported)."""
    vector = load_vector(selected_vector)
    del vector.meta.extra["selection"]
    return save_vector(vector, tmp_path_factory.mktemp("plain") / "plain.safetensors")


def _chosen(path: Path) -> tuple[float, int]:
    chosen = load_vector(path).meta.extra["selection"]["chosen"]
    return float(chosen["alpha"]), int(chosen["layer"])


def _run_args(vectors: list[Path], output: Path, *extra: str) -> list[str]:
    return ["--model", "demo", "--vectors", *map(str, vectors), "--tasks", "demo_sentiment", "--limit", "16",
            "--device", "cpu", "--output", str(output), *extra]  # fmt: skip


def _cell_alphas(output: Path) -> dict[str, set[float]]:
    out: dict[str, set[float]] = {}
    for path in (output / "cells").glob("*.json"):
        cell = json.loads(path.read_text())["cell"]
        if cell["vector"] is not None:
            out.setdefault(cell["vector"]["label"], set()).add(cell["alpha"])
    return out


def test_selected_runs_marks_its_cell_and_is_the_same_cell_as_its_number(
    selected_vector: Path, tmp_path: Path, capsys
) -> None:
    alpha, layer = _chosen(selected_vector)
    output = tmp_path / "run"
    assert main(_run_args([selected_vector], output, "--alphas", "0.5,selected", "--controls", "random:1")) == 0
    printed = capsys.readouterr().out
    assert "at the validation-selected strength:" in printed and f"at strength {alpha:g}" in printed
    control = f"random({selected_vector.name}, seed 0)"
    # the placebo runs where its vector runs, the selected strength included
    assert _cell_alphas(output) == {selected_vector.name: {0.5, alpha}, control: {0.5, alpha}}
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["vectors"][selected_vector.name]["selected"] == {"alpha": alpha, "layer": layer}
    assert manifest["grid"]["alphas"] == [0.5, "selected"]
    rows = list(csv.DictReader((output / "effects.csv").open()))
    marked = {(r["vector"], float(r["alpha"]), int(r["layer"])) for r in rows if r["selected"] == "True"}
    assert marked == {(selected_vector.name, alpha, layer), (control, alpha, layer)}
    assert {r["selected"] for r in rows} == {"True", "False"}
    html = (output / "report.html").read_text()
    assert sum(row["selected"] for row in cell_table(html)) == 2, "the two marked rows"
    assert html.count('<span class="selected"') == 1  # and the legend
    assert "at the validation-selected strength:" in html
    # `selected` is a number once resolved: the same strength given as a number is the same, finished cell
    again = _run_args([selected_vector], output, "--alphas", f"0.5,{alpha:g}", "--controls", "random:1")
    assert main(again) == 0
    assert "0 computed here, 5 already there" in capsys.readouterr().out


def test_the_default_grid_adds_each_vectors_selected_strength(
    selected_vector: Path, plain_vector: Path, tmp_path: Path, capsys
) -> None:
    alpha, layer = _chosen(selected_vector)
    config = RunConfig(model="demo", vectors=[selected_vector, plain_vector], tasks=["demo_facts"],
                       controls=["random:1"], output=tmp_path / "r")  # fmt: skip
    prepared = prepare(config, progress=False)
    by_vector: dict[str, set[float]] = {}
    for cell in prepared.cells:
        if cell.vector is not None:
            by_vector.setdefault(cell.vector.label, set()).add(cell.alpha)
    grid = set(DEFAULT_ALPHAS)
    assert by_vector[selected_vector.name] == grid | {alpha}
    assert by_vector[f"random({selected_vector.name}, seed 0)"] == grid | {alpha}
    assert by_vector[plain_vector.name] == grid  # no selection recorded: the default grid, no error
    args = ["--model", "demo", "--vectors", str(selected_vector), str(plain_vector), "--tasks", "demo_facts",
            "--output", str(tmp_path / "r"), "--dry-run"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{alpha:g}* " in out and f"selected on validation at layer {layer}" in out
    assert f"strengths of {plain_vector.name}: -4, -2, 2, 4, 8 (no validation-selected strength recorded)" in out


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_selected_for_a_vector_that_recorded_none_is_one_error_before_compute(
    selected_vector: Path, plain_vector: Path, tmp_path: Path, capsys, extra: list[str]
) -> None:
    output = tmp_path / "run"
    args = _run_args([selected_vector, plain_vector], output, "--alphas=-2,selected", *extra)
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("steer-eval: error:"), err
    assert str(plain_vector) in err[0] and "--select-on validation" in err[0] and "Traceback" not in err[0]
    assert not list((output / "cells").glob("*.json")) if (output / "cells").exists() else True


def test_a_combination_has_no_selected_strength(selected_vector: Path, tmp_path: Path, capsys) -> None:
    vector = load_vector(selected_vector)  # another vector (half as long) that recorded the same selection
    vector.directions = {key: tensor / 2 for key, tensor in vector.directions.items()}
    other = save_vector(vector, tmp_path / "other.safetensors")
    both = [selected_vector, other]
    assert main(_run_args(both, tmp_path / "r", "--alphas", "selected", "--combine", "--dry-run")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--combine" in err and "add numeric strengths" in err
    assert main(_run_args(both, tmp_path / "r", "--alphas", "2,selected", "--combine", "--dry-run")) == 0
    captured = capsys.readouterr()
    assert "the combination runs at 2 only" in captured.err
    assert f"strengths of {selected_vector.name} + {other.name}: 2 (a combination has no selected" in captured.out


SPEC = """\
model: demo
vectors: {{sentiment: {vector}}}
defaults: {{seed: 0, limit: 16, device: cpu}}
expect:
  - {{vector: sentiment, task: demo_sentiment, alpha: {alpha}, not_worse: {{margin: 0.99}}}}
"""


def test_a_check_expectation_at_the_selected_strength(selected_vector: Path, tmp_path: Path, capsys) -> None:
    alpha, layer = _chosen(selected_vector)
    spec = tmp_path / "steering.yaml"
    spec.write_text(SPEC.format(vector=selected_vector, alpha="selected"))
    status = main(["check", str(spec), "--output", str(tmp_path / "out"), "--junit", str(tmp_path / "junit.xml")])
    assert status == 0, capsys.readouterr()
    [case] = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert case.get("name") == f"sentiment x{alpha:g} (selected) on demo_sentiment"
    alphas = [a for run in (tmp_path / "out").iterdir() for a in _cell_alphas(run).get(selected_vector.name, ())]
    assert alphas == [alpha]
    rows = [r for path in (tmp_path / "out").rglob("effects.csv") for r in csv.DictReader(path.open())]
    assert [(float(r["alpha"]), int(r["layer"]), r["selected"]) for r in rows] == [(alpha, layer, "True")]


def test_a_check_asking_selected_of_a_vector_without_one_is_one_error(
    plain_vector: Path, tmp_path: Path, capsys
) -> None:
    spec = tmp_path / "steering.yaml"
    spec.write_text(SPEC.format(vector=plain_vector, alpha="selected"))
    assert main(["check", str(spec), "--output", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expect[0]: vector 'sentiment'" in err[0] and str(plain_vector) in err[0], err
    assert "--select-on validation" in err[0]
    assert not (tmp_path / "out").exists()


def test_the_config_refuses_what_the_command_line_would(selected_vector: Path, tmp_path: Path) -> None:
    for bad in ([float("nan")], ["chosen"], []):
        config = RunConfig(model="demo", vectors=[selected_vector], alphas=bad, output=tmp_path / "r")
        with pytest.raises(SteerEvalError, match="--alphas"):
            config.check()
