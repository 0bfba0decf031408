"""`steer-eval vectors build` and `steer-eval tasks` from the command line, good input and bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError
from steer_eval.option_lists import parse_layers
from steer_eval.tasks.registry import DATA_ENV, load_split
from steer_eval.vectors.format import load_vector

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_build_select_show_and_placebo(demo_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sentiment.safetensors"
    args = ["vectors", "build", "--method", "pasf", "--model", "demo", "--task", "demo_sentiment", "--layers", "1-2"]
    assert main([*args, "--select-on", "validation", "--strengths", "1,4", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "selection" in printed and "model_answers" in printed
    vector = load_vector(out)
    chosen = vector.meta.extra["selection"]["chosen"]
    assert (vector.meta.default_layer, vector.meta.default_alpha) == (chosen["layer"], chosen["alpha"])
    trained = vector.meta.extra["trained_on"]  # what it saw: the train split's question hashes, not validation's
    assert trained["task"] == "demo_sentiment" and trained["split"] == "train"
    train = len(load_split("demo_sentiment", "train"))  # every train question is distinct
    assert trained["items"] == len(trained["questions"]) == train
    assert main(["vectors", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "pair cos" in shown and "resid.1" in shown and "target-answer rate" in shown
    assert f"trained_on      demo_sentiment train split: {train} items, {train} distinct questions" in shown
    assert trained["questions"][0] not in shown  # thousands of hashes: counted here, listed by --json
    placebo = tmp_path / "placebo.safetensors"
    assert main(["vectors", "build", "--method", "random", "--like", str(out), "--seed", "2", "-o", str(placebo)]) == 0
    assert load_vector(placebo).meta.method == "random" and "trained_on" not in load_vector(placebo).meta.extra


def test_austeer_from_the_command_line(demo_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "au.safetensors"
    args = ["vectors", "build", "--method", "austeer", "--model", "demo", "--task", "demo_sycophancy"]
    assert main([*args, "--top-k", "7", "--max-items", "80", "-o", str(out)]) == 0
    vector = load_vector(out)
    assert sum(int((t != 0).sum()) for t in vector.directions.values()) == 7
    assert vector.meta.action.value == "au_scale" and vector.meta.extra["top_k"] == 7


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "demo_sentimen"], "did you mean demo_sentiment"),
        (["--task", "demo_facts", "--layers", "9"], "layer 9 does not exist"),
        (["--task", "demo_facts", "--layers", "one"], "--layers 'one'"),
        (["--task", "demo_facts", "--strengths", "1,2"], "add --select-on validation"),
        (["--task", "bbq_age"], "--data-dir"),
        (["--task", "demo_facts", "--model", "/nonexistent/model"], "cannot read the model config"),
        (["--task", "demo_facts", "--batch-size", "0"], "--batch-size"),
        (["--task", "gsm8k", "--data-dir", str(SHARED)], "gsm8k is a generation task"),
    ],
)
def test_bad_build_input_is_one_line_and_exit_2(
    demo_dir: Path, tmp_path: Path, capsys, monkeypatch, extra: list[str], message: str
) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    if str(SHARED) in extra and not SHARED.is_dir():
        pytest.skip(f"benchmark data folder {SHARED} is absent")
    args = ["vectors", "build", "--method", "caa", "--model", "demo", *extra, "-o", str(tmp_path / "v.safetensors")]
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err, err
    assert not (tmp_path / "v.safetensors").exists()


def test_an_output_that_is_a_folder_is_refused_before_the_work(demo_dir: Path, tmp_path: Path, capsys) -> None:
    """`-o FOLDER` would fail only when the finished vector (or report) is written: refused before building."""
    args = ["vectors", "build", "--method", "caa", "--model", "demo", "--task", "demo_facts", "-o", str(tmp_path)]
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err == f"steer-eval: error: {tmp_path} is a folder; name the file to write, e.g. {tmp_path}/NAME.safetensors"
    assert not list(tmp_path.iterdir()), "nothing was written"
    assert main(["report", str(tmp_path), "-o", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "is a folder; name the file to write" in capsys.readouterr().err


def test_random_needs_a_reference_and_selection_refuses_the_test_split(tmp_path: Path, capsys) -> None:
    assert main(["vectors", "build", "--method", "random", "-o", str(tmp_path / "r.safetensors")]) == EXIT_BAD_INPUT
    assert "--like" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse: 'test' is not a choice
        main(
            [
                "vectors",
                "build",
                "--method",
                "caa",
                "--model",
                "demo",
                "--task",
                "demo_facts",
                "--select-on",
                "test",
                "-o",
                "x",
            ]
        )
    assert exit_info.value.code == EXIT_BAD_INPUT


def test_layer_syntax() -> None:
    assert parse_layers("3") == [3] and parse_layers("1,4") == [1, 4] and parse_layers("2-4") == [2, 3, 4]
    assert parse_layers("all") is None and parse_layers(None) is None
    with pytest.raises(SteerEvalError):
        parse_layers("-1")


def test_tasks_lists_the_registry(capsys, monkeypatch, shared_data: Path) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert main(["tasks", "--no-sizes"]) == 0
    text = capsys.readouterr().out
    assert "bbq_age" in text and "caa_sycophancy" in text and "demo_facts" in text and "--data-dir" in text
    assert main(["tasks", "bias", "demo", "--json", "--data-dir", str(shared_data)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {
        f"bbq_{c}"
        for c in ("age", "disability_status", "nationality", "physical_appearance", "religion", "sexual_orientation")
    } | {"demo_sentiment", "demo_sentiment_mc", "demo_sycophancy", "demo_facts", "demo_compare"}
    assert rows["bbq_age"]["data"] == "present" and sum(rows["bbq_age"]["sizes"].values()) == 3680
    assert rows["demo_facts"]["data"] == "built in" and rows["bbq_age"]["lm_eval_task"] == "se_bbq_age"
    assert main(["tasks", "caa_sycophancy", "--json"]) == 0
    syco = json.loads(capsys.readouterr().out)[0]
    assert syco["data"] == "missing" and syco["target_is_desired"] is False and "UNWANTED" in syco["desired"]
