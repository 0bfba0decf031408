"""`steer-eval check`: expectations that hold pass (exit 0); a weakened, unrelated, harmful or letter-bias
vector, or a regression against a stored baseline, fails (exit 1) with JUnit XML and a Markdown summary;
malformed specs exit 2 with one clear line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.vectors.control import random_like
from steer_eval.vectors.format import load_vector, save_vector

SPEC = """\
model: {model}
vectors: {{mood: {vector}}}
defaults: {{seed: 0{extra_defaults}}}
expect:
{expect}
{tail}"""
# The demo's mood vector has norm 15: at strength 0.1 it already moves the positive-reply rate by ~22 points,
# at 0.01 (a tenth) by ~6 (measured; docs/check.md).
IMPROVES = "  - {vector: mood, task: demo_sentiment, alpha: 0.1, improves: {min_delta: 0.15, q: 0.05}}"
NOT_WORSE = "  - {vector: mood, task: demo_compare, alpha: 0.05, not_worse: {margin: 0.15}}"
HARMS = "  - {vector: mood, task: demo_facts, alpha: 8, not_worse: {margin: 0.05}}"


@pytest.fixture(scope="module")
def mood(demo_dir: Path, tmp_path_factory) -> Path:
    """The demo world's own mood vector (docs/demo.md), scaled so strength 0.1 pushes its planted directions
    3 scales: it raises demo_sentiment by about 30 points there, leaves the capabilities alone at 0.05 and
    makes demo_facts answer at random at 8."""
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector

    vector = planted_vector("mood", DemoRecipe())
    for key in vector.directions:
        vector.directions[key] = vector.directions[key] * 10
    return save_vector(vector, tmp_path_factory.mktemp("good") / "mood.safetensors")


def _spec(
    folder: Path, vector: Path, expect: list[str], model: str = "demo", tail: str = "", extra_defaults: str = ""
) -> Path:
    path = folder / "steering.yaml"
    path.write_text(
        SPEC.format(model=model, vector=vector, expect="\n".join(expect), tail=tail, extra_defaults=extra_defaults)
    )
    return path


def _check(spec: Path, folder: Path, *extra: str) -> int:
    return main(["check", str(spec), "--output", str(folder / "out"), "--junit", str(folder / "junit.xml"),
                 "--summary", str(folder / "summary.md"), *extra])  # fmt: skip


def test_the_demo_vector_passes_its_expectations(mood: Path, tmp_path: Path, capsys) -> None:
    assert _check(_spec(tmp_path, mood, [IMPROVES, NOT_WORSE]), tmp_path) == 0
    assert "2 of 2 checks hold" in capsys.readouterr().out
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert "all steering expectations hold" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize("kind", ["tenth", "unrelated"])
def test_weakened_or_unrelated_vectors_fail_improves(mood: Path, tmp_path: Path, kind: str) -> None:
    vector = load_vector(mood)
    if kind == "tenth":
        for key in vector.directions:
            vector.directions[key] = vector.directions[key] / 10
    else:
        vector = random_like(vector, seed=7)
    path = save_vector(vector, tmp_path / "mood.safetensors")
    assert _check(_spec(tmp_path, path, [IMPROVES]), tmp_path) == 1
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None
    assert "FAILED" in (tmp_path / "summary.md").read_text()


def test_a_vector_that_harms_a_capability_fails_not_worse(mood: Path, tmp_path: Path, capsys) -> None:
    assert _check(_spec(tmp_path, mood, [HARMS]), tmp_path) == 1
    out = capsys.readouterr().out
    assert "not_worse" in out and "FAIL" in out


def test_a_letter_bias_vector_fails_no_artifact(real_model_dir: Path, tmp_path: Path) -> None:
    from letter_bias import TASK, letter_prior_task, letter_vector

    with letter_prior_task(tmp_path, real_model_dir) as include:
        vector = letter_vector(real_model_dir, tmp_path / "letter.safetensors")
        expect = [f"  - {{vector: mood, task: {TASK}, alpha: 30, no_artifact: true}}"]
        spec = _spec(tmp_path, vector, expect, model=str(real_model_dir), extra_defaults=f", include_path: {include}")
        assert _check(spec, tmp_path) == 1
    failure = ET.parse(tmp_path / "junit.xml").getroot().find("testcase/failure")
    assert failure is not None and "no_artifact" in failure.get("message")


def test_a_regression_against_a_stored_baseline_is_detected(mood: Path, tmp_path: Path, capsys) -> None:
    tail = "regression: {max_drop: 0.05}"
    first = tmp_path / "first"
    first.mkdir()
    assert _check(_spec(first, mood, [IMPROVES], tail=tail), first) == 0  # the stored run
    weaker = load_vector(mood)
    for key in weaker.directions:
        weaker.directions[key] = weaker.directions[key] * 0.1
    # the second spec's only other check (a loose not_worse) passes, so a failure can only be the regression
    loose = "  - {vector: mood, task: demo_sentiment, alpha: 0.1, not_worse: {margin: 0.99}}"
    same = tmp_path / "same"
    same.mkdir()
    status = _check(_spec(same, mood, [loose], tail=tail), same, "--baseline", str(first / "out"))
    assert status == 0, capsys.readouterr().out  # the unchanged vector does not regress
    second = tmp_path / "second"
    second.mkdir()
    path = save_vector(weaker, second / "mood.safetensors")
    status = _check(_spec(second, path, [loose], tail=tail), second, "--baseline", str(first / "out"))
    assert status == 1, capsys.readouterr().out
    cases = {case.get("classname"): case for case in ET.parse(second / "junit.xml").getroot().iter("testcase")}
    assert cases["steer_eval.not_worse"].find("failure") is None
    failure = cases["steer_eval.regression"].find("failure")
    assert failure is not None and "drop" in (failure.text or "")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda text: text.replace("improves:", "improve:"), "unknown key 'improve' (did you mean 'improves'?)"),
        (lambda text: text.replace("defaults:", "default:"), "unknown key 'default'"),
        (lambda text: text.replace("demo_sentiment", "demo_sentimnt"), "unknown task 'demo_sentimnt'"),
        (lambda text: text.replace("mood.safetensors", "missing.safetensors"), "file not found"),
        (lambda text: text.replace("vector: mood,", "vector: other,"), "vector 'other' is not one of"),
        (lambda text: text.replace("min_delta: 0.15", "min_delta: lots"), "must be a number"),
        (lambda text: text + "baseline: nowhere\\n", "does not exist"),
        (lambda text: "model: [unclosed", "not valid YAML"),
        (lambda text: text.replace("seed: 0", "seed: 0, limit: abc"), "defaults.limit must be a whole number"),
        (lambda text: text.replace("seed: 0", "seed: 0, dtype: float8"), "defaults.dtype must be one of"),
        (lambda text: text.replace("q: 0.05", "q: 5"), "improves.q must be a level"),
        (lambda text: text.replace("alpha: ", "positions: all2, alpha: "), "expect[0].positions: unknown position"),
        (
            lambda text: text.replace("alpha: ", "layer: 3, alpha: "),
            "steering.yaml: expectation 'mood x0.1 on demo_sentiment' (layer 3): ",
        ),
    ],
)
def test_malformed_specs_exit_2_with_one_clear_line(mood: Path, tmp_path: Path, capsys, mutate, message) -> None:
    spec = _spec(tmp_path, mood, [IMPROVES])
    spec.write_text(mutate(spec.read_text()))
    assert main(["check", str(spec), "--output", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_group_is_judged_on_all_its_items_pooled(real_model_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    """`task: se_mmlu_stem` (a registry group, by its lm-eval name) runs its 19 subjects and is judged on
    the paired change over all their items, as the analysis pools it."""
    import json

    from letter_bias import letter_vector

    from steer_eval.check.gate import run_checks
    from steer_eval.check.spec import load_spec

    vector = letter_vector(real_model_dir, tmp_path / "letter.safetensors")
    expect = ["  - {vector: mood, task: se_mmlu_stem, alpha: 20, not_worse: {margin: 0.99}}"]
    spec = _spec(
        tmp_path, vector, expect, model=str(real_model_dir), extra_defaults=f", limit: 3, data_dir: {shared_data}"
    )
    loaded = load_spec(spec)
    assert loaded.expect[0].task == "mmlu_stem" and loaded.expect[0].pooled
    [outcome] = run_checks(loaded, tmp_path / "out", progress=False)
    assert outcome.passed and outcome.check == "not_worse"
    cells = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob("cells/*.json")]
    by_task: dict[str, dict[float, list[float]]] = {}
    for cell in cells:
        by_task.setdefault(cell["cell"]["task"]["name"], {})[cell["cell"]["alpha"]] = [
            r["correct"] for r in cell["records"]
        ]
    assert len(by_task) == 19
    gained = sum(sum(run[20.0]) - sum(run[0.0]) for run in by_task.values())
    assert outcome.measured == f"{100 * gained / 57:+.1f} points"


def test_artifacts_are_found_in_a_group_and_named(real_model_dir: Path, tmp_path: Path) -> None:
    from letter_bias import TASK, letter_prior_task, letter_vector

    names = (TASK, f"{TASK}_again")
    with letter_prior_task(tmp_path, real_model_dir, names, groups=("test_letters",)) as include:
        vector = letter_vector(real_model_dir, tmp_path / "letter.safetensors")
        expect = ["  - {vector: mood, task: test_letters, alpha: 30, no_artifact: true, improves: {min_delta: 0.1}}"]
        spec = _spec(tmp_path, vector, expect, model=str(real_model_dir), extra_defaults=f", include_path: {include}")
        assert _check(spec, tmp_path) == 1
    cases = {case.get("classname"): case for case in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    # at the original order the target is always A, so the letter vector "improves" the pooled tasks ...
    assert cases["steer_eval.improves"].find("failure") is None
    # ... and the rotations show it is the letter: both tasks named
    failure = cases["steer_eval.no_artifact"].find("failure")
    assert failure is not None and all(f"se_{name}:" in (failure.text or "") for name in names)


def test_cells_of_the_baseline_run_are_reused(mood: Path, tmp_path: Path, capsys) -> None:
    tail = "regression: {max_drop: 0.05}"
    first = tmp_path / "first"
    first.mkdir()
    assert _check(_spec(first, mood, [IMPROVES], tail=tail), first) == 0
    capsys.readouterr()
    second = tmp_path / "second"
    second.mkdir()
    more = [IMPROVES, IMPROVES.replace("alpha: 0.1", "alpha: 0.2")]
    assert _check(_spec(second, mood, more, tail=tail), second, "--baseline", str(first / "out")) == 0
    manifest = next((second / "out").rglob("manifest.json")).read_text()
    import json

    counts = json.loads(manifest)["counts"]
    assert counts["reused"] == 2 and counts["computed"] == 1  # baseline and strength 0.1 copied; 0.2 is new
    assert "not compared" in capsys.readouterr().out  # strength 0.2 is a new expectation: no baseline cell
    # a baseline that holds none of the expectations' cells is the wrong baseline: that fails
    other = tmp_path / "other"
    other.mkdir()
    only_new = [IMPROVES.replace("alpha: 0.1", "alpha: 0.2")]
    assert _check(_spec(other, mood, only_new, tail=tail), other, "--baseline", str(first / "out")) == 1
    assert "no matching cell in the baseline run" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("mmlu_stemm", "unknown task 'mmlu_stemm' (did you mean 'mmlu_stem'?)"),
        ("airisk_self_awareness_web_gpt", "holds only probes"),
    ],
)
def test_tasks_must_be_known_and_have_a_wanted_answer(mood: Path, tmp_path: Path, capsys, task, message) -> None:
    spec = _spec(tmp_path, mood, [IMPROVES.replace("demo_sentiment", task)])
    assert main(["check", str(spec), "--output", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
