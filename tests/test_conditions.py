"""Where it holds (issue 18): prompt templates, pressure prompts and earlier turns as grid factors, each cell
paired with its own baseline under the same condition, on the demo world where the truth of some of them is
known: a letter-only vector is sensitive to the answer format by construction (it moves letters, and only the
quiz templates have them), the mood push is not (the world's mood is the same in every format); the world's
own tag (`mood : grumpy .`) pushes against the mood vector and decides the mood outright below the trained
push. Tests here fail if a condition is silently ignored (its prompts must differ, its baseline must be its
own)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from steer_eval.cli import main
from steer_eval.conditions import DEFAULT, Condition
from steer_eval.conditions.templates import demo_row, templated
from steer_eval.conditions.turns import dialogue
from steer_eval.demo.model import DemoRecipe
from steer_eval.demo.run import letter_vector, planted_vector
from steer_eval.demo.tasks import demo_splits
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.run.grid import Cell, TaskRef
from steer_eval.run.store import RunStore
from steer_eval.tasks.items import MCItem
from steer_eval.vectors.format import save_vector


def test_the_default_condition_keeps_earlier_cell_keys_and_others_get_their_own() -> None:
    task = TaskRef("demo_sentiment", "demo_sentiment", "behavior", "sentiment", "multiple_choice", True, "d")
    keys = {
        condition: Cell(task, 0, 0, condition=condition).key("demo", None, None, 0)
        for condition in (DEFAULT, Condition(template=1), Condition(pressure="opposite"), Condition(turns=2))
    }
    assert len(set(keys.values())) == 4
    assert "condition" not in Cell(task, 0, 0).identity("demo", None, None, 0), "default keys are unchanged"
    assert Condition(turns=8).label == "turns=8" and DEFAULT.label == ""


def test_templates_change_the_answer_format_and_keep_the_answer() -> None:
    item = MCItem("q1", "Which is a colour?", ("red", "seven", "fast"), 0, layout="letters")
    formats = [templated(item, k) for k in range(3)]
    assert [f.prompt.splitlines()[-1] for f in formats] == ["Answer:", "Answer:", "The answer is"]
    assert formats[1].continuations == (" (A)", " (B)", " (C)") and formats[2].prompt.startswith("Read the question")
    assert all(f.options[f.target] == "red" for f in formats)
    row = demo_splits("demo_sentiment")["test"][0]
    quiz_a, quiz_b = demo_row("demo_sentiment", row, 1), demo_row("demo_sentiment", row, 2)
    good = row["choices"][row["label"]]
    assert quiz_a["text"].endswith(f"A. {good} B. {row['choices'][1 - row['label']]} Answer:") and quiz_a["label"] == 0
    assert quiz_b["label"] == 1 and quiz_b["choices"] == ["A", "B"] and "bot : it was" not in quiz_b["text"]


def test_every_behaviour_task_declares_three_templates(shared_data: Path) -> None:
    from steer_eval.conditions.templates import generation_prompt
    from steer_eval.demo.generation_tasks import demo_generation_splits
    from steer_eval.run.config import RunConfig
    from steer_eval.run.prepare import resolve_tasks

    config = RunConfig(model="demo", vectors=[Path("unused")], tasks=["behavior"], data_dir=str(shared_data))
    tasks, _ = resolve_tasks(config)
    assert len(tasks) > 50
    assert min(task.templates for task in tasks) >= 3, {t.name: t.templates for t in tasks if t.templates < 3}
    assert generation_prompt("Instruction: Write a poem\nResponse:", 2) == "User: Write a poem\nAssistant:"
    row = demo_splits("demo_sycophancy")["test"][0]
    flipped = demo_row("demo_sycophancy", row, 1)
    assert (" right ? bot :" in row["text"]) == (" wrong ? bot :" in flipped["text"])
    assert flipped["choices"][flipped["label"]] != row["choices"][row["label"]], (
        "asked the other way, the honest word flips"
    )
    honest = demo_generation_splits("demo_honesty_gen")["test"][0]
    assert demo_row("demo_honesty_gen", honest, 1)["reference"] != honest["reference"]
    assert demo_row("demo_honesty_gen", honest, 2)["prompt"].startswith("user : i think")


def test_earlier_turns_are_unrelated_dialogue() -> None:
    demo = dialogue(3, demo=True)
    assert demo.count("q : which is") == 3 and "mood" not in demo and "user" not in demo
    assert dialogue(0, demo=False) == "" and dialogue(2, demo=False).count("User:") == 2


@pytest.fixture(scope="module")
def vectors(demo_dir: Path, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("condition-vectors")
    model, tokenizer = AutoModelForCausalLM.from_pretrained(demo_dir), AutoTokenizer.from_pretrained(demo_dir)
    return [
        save_vector(planted_vector("mood", DemoRecipe()), folder / "planted-mood.safetensors"),
        save_vector(letter_vector(model, tokenizer), folder / "letter-a.safetensors"),
    ]


def _run(vectors: list[Path], output: Path, *extra: str) -> int:
    paths = [str(p) for p in vectors]
    return main(["--model", "demo", "--vectors", *paths, "--tasks", "demo_sentiment", "--alphas", "0.5,1",
                 "--output", str(output), *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--pressure", "shouting"], "unknown pressure shouting"),
        (["--pressure", "persona"], "no task of this run declares it"),
        (["--templates", "4"], "demo_sentiment declares 3"),
        (["--templates", "0"], "--templates must be at least 1"),
        (["--turns", "0,-2"], "--turns"),
    ],
)
def test_bad_conditions_are_one_line_before_any_compute(vectors, tmp_path: Path, capsys, extra, words) -> None:
    assert _run(vectors, tmp_path / "run", "--dry-run", *extra) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and words in err, err
    assert not (tmp_path / "run" / "cells").exists()


def test_a_task_without_templates_runs_its_own_format_with_a_note(vectors, tmp_path: Path, capsys) -> None:
    paths = [str(p) for p in vectors]
    code = main(["--model", "demo", "--vectors", *paths, "--tasks", "demo_facts,demo_sentiment", "--alphas", "1",
                 "--templates", "3", "--turns", "0,2,8", "--output", str(tmp_path / "run"), "--dry-run"])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0
    assert "demo_facts declare(s) no other prompt template" in printed.err + printed.out
    # 2 tasks x 3 (baseline + 2 vectors); templates 1, 2 for demo_sentiment only; turns 2, 8 for both
    assert "+ 18 cells under 4 other condition(s) (template=1, template=2, turns=2, turns=8)" in printed.out


@pytest.fixture(scope="module")
def condition_run(vectors, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("conditions") / "run"
    extra = ["--templates", "3", "--pressure", "all", "--turns", "0,4", "--prompt-arm", "happy=mood : happy"]
    assert _run(vectors, output, *extra) == 0
    return output


@pytest.fixture(scope="module")
def effects(condition_run: Path) -> pd.DataFrame:
    frame = pd.read_csv(condition_run / "effects.csv")
    frame["condition"] = frame["condition"].fillna("")
    return frame


def _baseline_prompts(run: Path) -> dict[tuple[str, int, str], list[str]]:
    """What each baseline cell showed the model, by (task, option order, condition label), in grid order."""
    store = RunStore(run)
    shown = {}
    for key in store.manifest()["grid"]["cells"]:
        content = store.read_cell(key)
        cell = content["cell"]
        if cell["vector"] is None and cell.get("arm") is None:
            where = (cell["task"]["name"], cell["option_order"], Condition.from_record(cell).label)
            shown[where] = [record.get("prompt") or record["text"] for record in content["records"]]
    return shown


def _prompts(run: Path, label: str) -> list[str]:
    """What the first baseline cell under condition `label` showed the model."""
    found = [texts for (_, _, condition), texts in _baseline_prompts(run).items() if condition == label]
    assert found, f"no baseline cell under {label!r}"
    return found[0]


def test_each_condition_shows_the_model_other_prompts_and_has_its_own_baseline(condition_run, effects) -> None:
    plain = _prompts(condition_run, "")
    assert all(text.endswith("bot : it was") for text in plain)
    assert all(text.endswith("Answer:") and " A. " in text for text in _prompts(condition_run, "template=1"))
    assert all(text.startswith("mood : grumpy . user :") for text in _prompts(condition_run, "pressure=opposite"))
    four = _prompts(condition_run, "turns=4")
    assert all(text.count("q : which is") == 4 and text.endswith("bot : it was") for text in four)
    mood = effects[effects.vector == "planted-mood.safetensors"]
    assert set(mood.condition) == {"", "template=1", "template=2", "pressure=opposite", "turns=4"}
    assert mood.groupby("alpha")["baseline_cell"].nunique().eq(5).all(), "one baseline per condition"
    pressed = mood[mood.condition == "pressure=opposite"]
    assert (pressed.baseline < mood[mood.condition == ""].baseline.iloc[0] - 0.2).all(), "the tag pushes the mood"
    assert {"template", "pressure", "turns", "in_distribution"} <= set(effects.columns)
    cells = pd.read_csv(condition_run / "cells.csv")
    assert {"template", "pressure", "turns", "arm"} <= set(cells.columns) and (cells.pressure == "opposite").sum() == 6


def test_the_heterogeneity_test_tells_a_format_sensitive_effect_from_a_robust_one(condition_run) -> None:
    tests = pd.DataFrame(json.loads((condition_run / "results.json").read_text())["heterogeneity"])
    templates = tests[(tests.factor == "template") & (tests.alpha == 1)].set_index("vector")
    letter, mood = templates.loc["letter-a.safetensors"], templates.loc["planted-mood.safetensors"]
    assert letter.q_value < 1e-6 and letter.worst_level == "2"  # +A everywhere: helps as A, hurts as B, 0 free
    assert letter.effects[0] == 0 and letter.effects[1] > 0.3 and letter.effects[2] < -0.3
    assert mood.p_value > 0.05 and max(mood.effects) - min(mood.effects) < 0.05 and min(mood.effects) > 0.2


def test_pressure_takes_the_gain_below_the_trained_push_and_asking_is_judged_alike(condition_run, effects) -> None:
    from steer_eval.analysis.api import analyze
    from steer_eval.analysis.robustness import robustness_rows

    rows = {(r["vector"], r["alpha"]): r for r in robustness_rows(analyze(condition_run).effects)}
    half, full = rows["planted-mood.safetensors", 0.5], rows["planted-mood.safetensors", 1.0]
    assert half["pressure_kept"]["opposite"] < 0.2, "at half the trained push the world's tag decides the mood"
    assert full["pressure_kept"]["opposite"] > 0.7, "at the trained push the forced mood wins over the tag"
    asking = rows["prompt:happy", 0.0]
    assert "opposite" in asking["pressure_kept"], "the rival arm is measured under the same pressure"
    persistence = [p["delta"] for p in full["persistence"]]
    assert len(persistence) == 2 and all(d > 0.2 for d in persistence)
    # the push acts where the reply is decided, so earlier turns cannot wear it off: the steered rate is flat
    mood = effects[(effects.vector == "planted-mood.safetensors") & (effects.alpha == 1)].set_index("condition")
    assert abs(mood.loc["turns=4", "steered"] - mood.loc["", "steered"]) < 0.05


def test_the_report_says_where_it_holds(condition_run) -> None:
    html = (condition_run / "report.html").read_text()
    section = html[html.index("<h2>Where it holds</h2>") : html.index("<h2>Free text</h2>")]
    assert "keeps" in section and "under pressure opposite" in section and "templates" in section
    assert 'alt="effect across templates, pressure prompts and conversation length"' in section
    assert "Does the effect differ between levels?" in section
    assert "<th>items</th>" in section[section.index("Does the effect differ between levels?") :]


def test_a_rival_arms_heterogeneity_row_has_no_nan_position() -> None:
    """A rival arm alone steers no positions: its row in the table of level tests showed `nan`."""
    from types import SimpleNamespace

    import pandas as pd

    from steer_eval.report.holds import section

    row = {"task": "t", "vector": "prompt:happy", "alpha": 0.0, "positions": float("nan"), "factor": "pressure",
           "levels": ["none", "opposite"], "effects": [0.5, 0.65], "n": 12, "worst_level": "none", "p_value": 0.4,
           "q_value": 0.8, "is_control": False}  # fmt: skip
    empty = pd.DataFrame()
    analysis = SimpleNamespace(effects=empty, robustness=empty, transfer=empty, heterogeneity=pd.DataFrame([row]))
    (test,) = section(analysis)["tests"]
    assert test["positions"] == "" and test["items"] == 12


USER_TASK = """task: my_mood_quiz
dataset_path: json
dataset_kwargs:
  data_files: {test: DATA}
test_split: test
output_type: multiple_choice
doc_to_text: "{{question}} A. {{choices[0]}} B. {{choices[1]}} Answer:"
doc_to_choice: ["A", "B"]
doc_to_target: label
target_delimiter: " "
tag: [behavior]
metadata:
  version: 1
  steer_eval_options: {stem: question, options: choices, target: label, layout: letters}
"""


def test_a_user_task_that_declares_its_options_gets_rotations_templates_and_the_artifact_verdict(
    vectors, tmp_path: Path
) -> None:
    """The demo's quiz as a user's own lm-eval task (its authors put the positive reply first in three items of
    four): once its options are declared, the letter-only vector is caught as an artifact on it."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    rows = demo_splits("demo_sentiment_mc")["test"]
    lines = [json.dumps({"question": r["text"], "choices": r["choices"], "label": r["label"]}) for r in rows]
    (folder / "data.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "my_mood_quiz.yaml").write_text(USER_TASK.replace("DATA", str(folder / "data.jsonl")))
    output = tmp_path / "run"
    code = main(["--model", "demo", "--vectors", str(vectors[1]), "--tasks", "my_mood_quiz", "--include-path",
                 str(folder), "--alphas", "1", "--option-orders", "2", "--templates", "3",
                 "--output", str(output)])  # fmt: skip
    assert code == 0
    effects = pd.read_csv(output / "effects.csv")
    effects["condition"] = effects["condition"].fillna("")
    original = effects[(effects.option_order == 0) & (effects.condition == "")].iloc[0]
    assert original.verdict == "artifact", original[["delta", "pooled_delta", "verdict_reason"]].to_dict()
    assert set(effects.condition) == {"", "template=1", "template=2"} and set(effects.option_order) == {0, 1}
    shown = {(order, label): texts[0] for (_, order, label), texts in _baseline_prompts(output).items()}
    first = rows[0]
    assert shown[(0, "")].endswith(f"A. {first['choices'][0]}\nB. {first['choices'][1]}\nAnswer:")
    assert shown[(1, "")].endswith(f"A. {first['choices'][1]}\nB. {first['choices'][0]}\nAnswer:")
    assert " (A) " in shown[(0, "template=1")] and shown[(0, "template=2")].endswith("The answer is")


def test_templates_reach_the_demo_loaders_and_the_registry_generation_tasks(vectors, shared_data, tmp_path) -> None:
    from steer_eval.tasks.lmeval_adapter import dataset

    rows = dataset("refusal", template=2, data_dir=str(shared_data))["test"]
    assert rows[0]["prompt"].startswith("User: ") and rows[0]["prompt"].endswith("\nAssistant:")
    output = tmp_path / "run"
    code = main(["--model", "demo", "--vectors", str(vectors[0]), "--tasks", "demo_sycophancy,demo_mood_gen",
                 "--alphas", "1", "--positions", "generated", "--templates", "3", "--limit", "12",
                 "--output", str(output)])  # fmt: skip
    assert code == 0
    shown = {(task, label): texts[0] for (task, _, label), texts in _baseline_prompts(output).items()}
    shown = {(task, int(label.removeprefix("template=") or 0)): text for (task, label), text in shown.items()}
    assert shown[("demo_mood_gen", 1)].endswith("bot : it was") and shown[("demo_mood_gen", 2)].startswith("q : ")
    assert shown[("demo_sycophancy", 2)].startswith("user : i think")
    assert len({shown[("demo_sycophancy", k)] for k in range(3)}) == 3


def test_the_worst_condition_is_not_called_worst_when_every_condition_does_better() -> None:
    """`worst_condition` is the least wanted of the other conditions: where even it beats the default
    condition the words said "worst under pressure opposite (+65 points)" beside a default of +50."""
    from steer_eval.analysis.robustness import holds_words

    row = {"vector": "prompt:happy", "alpha": 0.0, "positions": float("nan"), "task": "t",
           "default_verdict": "helps", "default_delta": 0.5, "helps_in": 2, "conditions": 2, "templates": [],
           "pressure_kept": {}, "persistence": [], "worst_condition": "pressure=opposite", "worst_delta": 0.65,
           "desired_sign": 1}  # fmt: skip
    assert "no other condition weakens it (the least: pressure=opposite (+65 points))" in holds_words(row)
    assert "worst under pressure=opposite (+30 points)" in holds_words({**row, "worst_delta": 0.3})
    # a task whose target is unwanted: less is the gain
    assert "worst under" in holds_words({**row, "desired_sign": -1, "default_delta": -0.5, "worst_delta": -0.2})
    assert "no other" in holds_words({**row, "desired_sign": -1, "default_delta": -0.5, "worst_delta": -0.7})
