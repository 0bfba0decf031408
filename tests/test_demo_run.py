"""`steer-eval demo` end to end, checked against the demo world's known truth (docs/demo.md) through the
harness's own verdicts: each planted behaviour helped beyond its placebo at the validation-selected strength,
the placebo a near-null, the letter-only vector caught as an artifact, the capability harm at strength 2,
the anti-steerable share, specificity, and the verdicts against the truth the construction implies."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from steer_eval.cli import main
from steer_eval.demo.run import ALPHAS, LETTER_VECTOR
from steer_eval.demo.tasks import demo_splits
from steer_eval.demo.world import CONTRARIAN_TOPICS, TOPICS, World
from steer_eval.vectors.format import load_vector

BEHAVIOURS = ("demo_sentiment", "demo_sycophancy")
BEHAVIOUR_TASKS = (*BEHAVIOURS, "demo_sentiment_mc")
CAPABILITIES = ("demo_facts", "demo_compare")


@pytest.fixture(scope="module")
def effects(demo_output) -> pd.DataFrame:
    output, _ = demo_output
    return pd.read_csv(output / "run" / "effects.csv")


def _original(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.option_order == 0]


def test_the_demo_writes_its_vectors_run_folder_and_truth(demo_output) -> None:
    output, printed = demo_output
    assert "computed here" in printed and str(output / "run") in printed
    vectors = sorted(p.name for p in (output / "vectors").glob("*.safetensors"))
    assert {"sentiment-caa.safetensors", "sycophancy-pasf.safetensors", LETTER_VECTOR} <= set(vectors)
    assert (
        load_vector(output / "vectors" / "sentiment-pasf.safetensors").meta.extra["selection"]["split"] == "validation"
    )
    manifest = json.loads((output / "run" / "manifest.json").read_text())
    assert set(manifest["grid"]["alphas"]) == {*ALPHAS, "selected"}
    assert (output / "run" / "report.html").is_file() and (output / "truth.csv").is_file()
    assert "vector by vector:" in printed and "known truth" in printed


@pytest.mark.parametrize("task", BEHAVIOURS)
def test_each_behaviour_is_helped_beyond_its_placebo_at_the_selected_strength(effects, demo_output, task) -> None:
    mine = _original(effects[~effects.is_control & (effects.task == task)])
    chosen = mine[mine.selected & (mine.verdict == "helps")]
    assert len(chosen), mine[["vector", "alpha", "selected", "verdict", "verdict_reason"]].to_string()
    beyond = chosen[(chosen.vs_placebo_p < 0.05) & (chosen.vs_placebo_delta > 0)]
    assert len(beyond), chosen[["vector", "alpha", "vs_placebo_delta", "vs_placebo_p"]].to_string()
    # and the printed summary says so in words, for that vector
    _, printed = demo_output
    lines = [line for line in printed.splitlines() if line.strip().startswith(tuple(beyond.vector))]
    assert any(f"helps {task} at its selected strength" in line and "beyond its same-norm placebo" in line
               for line in lines), lines  # fmt: skip


def test_the_placebo_is_a_near_null(effects) -> None:
    controls = _original(effects[effects.is_control & effects.task.isin(BEHAVIOUR_TASKS)])
    helps = controls[controls.verdict == "helps"]
    assert len(helps) <= 0.05 * len(controls), helps[["vector", "task", "alpha", "delta"]].to_string()
    # where a vector helps, its placebo moves the behaviour's propensity at most half as far
    mine = _original(effects[~effects.is_control & effects.task.isin(BEHAVIOURS) & (effects.verdict == "helps")])
    for _, row in mine.iterrows():
        placebo = controls[(controls.control_of == row.vector) & (controls.task == row.task)
                           & (controls.alpha == row.alpha)].iloc[0]  # fmt: skip
        assert abs(placebo.propensity_delta) <= 0.5 * abs(row.propensity_delta), (row.vector, row.task, row.alpha)


def test_the_letter_only_vector_is_an_artifact_and_nothing_else_is(effects) -> None:
    mine = _original(effects[~effects.is_control])
    letter = mine[(mine.vector == LETTER_VECTOR) & (mine.task == "demo_sentiment_mc") & (mine.alpha > 0)]
    assert (letter.verdict == "artifact").all(), letter[["alpha", "verdict", "verdict_reason"]].to_string()
    others = mine[(mine.vector != LETTER_VECTOR) & (mine.verdict == "artifact")]
    assert others.empty, others[["vector", "task", "alpha", "verdict_reason"]].to_string()


def test_capabilities_are_hurt_at_high_strength_and_never_helped(effects) -> None:
    """The planted overexcitement: the PAS vectors push their disposition past 2.2 planted scales at strength 2
    and demo_facts answers at random; at their selected strength 1 they do not hurt it."""
    mine = _original(effects[~effects.is_control & effects.task.isin(CAPABILITIES)])
    assert not (mine.verdict == "helps").any()
    for vector in ("sentiment-pasf.safetensors", "sycophancy-pasf.safetensors"):
        facts = mine[(mine.vector == vector) & (mine.task == "demo_facts")].set_index("alpha")
        assert facts.loc[2.0, "verdict"] == "hurts" and facts.loc[2.0, "delta"] < -0.2, facts.verdict.to_dict()
        assert facts.loc[1.0, "verdict"] != "hurts", facts.verdict.to_dict()


def test_the_anti_steerable_share_is_the_contrarian_topics(effects) -> None:
    """Steering the mood up moves the contrarian topic's items the other way: 1/7 of demo_sentiment's items,
    39 of the 224 in its test split; the measured anti-steerable share must be that, within 3 points."""
    test = demo_splits("demo_sentiment")["test"]
    expected = sum(World(0).anti_steerable("demo_sentiment", item) for item in test) / len(test)
    assert abs(expected - len(CONTRARIAN_TOPICS) / len(TOPICS)) < 0.05
    mine = _original(effects[~effects.is_control & (effects.task == "demo_sentiment") & (effects.verdict == "helps")])
    assert len(mine)
    for vector, share in mine.groupby("vector").anti_steerable.first().items():
        assert abs(share - expected) <= 0.03, (vector, share, expected)


def test_a_behaviour_vector_has_no_effect_on_the_other_behaviour(effects) -> None:
    """Specificity: the PAS flattery vector leaves the mood task alone at moderate strengths."""
    mine = _original(effects[~effects.is_control])
    off = mine[
        (mine.vector == "sycophancy-pasf.safetensors") & (mine.task == "demo_sentiment") & (mine.alpha.abs() <= 1)
    ]
    assert len(off) and (off.verdict == "no detectable effect").all(), off[["alpha", "verdict", "delta"]].to_string()


def test_verdicts_agree_with_the_worlds_known_truth(demo_output) -> None:
    output, _ = demo_output
    truth = pd.read_csv(output / "truth.csv", keep_default_na=False)
    known = truth[truth.expected != ""]
    assert len(known) >= 40, f"only {len(known)} cells have a known truth"
    wrong = known[known.agrees.astype(str) != "True"]
    assert len(wrong) <= 0.05 * len(known), wrong.to_string()
    assert {"helps", "hurts", "no detectable effect", "artifact"} <= set(known.expected)


def test_a_second_demo_run_reuses_every_cell(demo_output, capsys: pytest.CaptureFixture) -> None:
    output, _ = demo_output
    assert main(["demo", "--output", str(output)]) == 0
    assert ", 0 computed here" in capsys.readouterr().out


def test_the_transfer_matrix_separates_the_two_behaviours(demo_output, effects) -> None:
    """Each vector records its training task; the run tells in-distribution cells from transfer cells, and at
    the selected strength each PASf vector helps its own behaviour and leaves the other one alone."""
    output, _ = demo_output
    mine = _original(effects[~effects.is_control & effects.vector.str.startswith(("sentiment-", "sycophancy-"))])
    trained = mine.vector.str.split("-").str[0].map({"sentiment": "demo_sentiment", "sycophancy": "demo_sycophancy"})
    assert (mine.in_distribution.astype(bool) == (mine.task == trained)).all()
    transfer = pd.DataFrame(json.loads((output / "run" / "results.json").read_text())["transfer"]).set_index(
        ["vector", "task"]
    )
    for vector, own, other in (
        ("sentiment-pasf.safetensors", "demo_sentiment", "demo_sycophancy"),
        ("sycophancy-pasf.safetensors", "demo_sycophancy", "demo_sentiment"),
    ):
        assert transfer.loc[(vector, own), "verdict"] == "helps" and transfer.loc[(vector, own), "in_distribution"]
        assert (
            transfer.loc[(vector, other), "verdict"] != "helps" and abs(transfer.loc[(vector, other), "delta"]) < 0.02
        )
    html = (output / "run" / "report.html").read_text()
    assert 'alt="transfer matrix"' in html


def test_the_layer_choice_is_shown_with_intervals(demo_output) -> None:
    """Each built vector's validation change per layer and strength it tried, from its selection record."""
    output, _ = demo_output
    profile = pd.DataFrame(json.loads((output / "run" / "results.json").read_text())["layer_profile"])
    pasf = profile[profile.vector == "sentiment-pasf.safetensors"]
    assert set(pasf.layer) == {1, 2} and pasf.chosen.sum() == 1
    best = pasf.loc[pasf.validation_delta.idxmax()]
    assert best.chosen and best.ci_low > 0 and (pasf.ci_low <= pasf.validation_delta).all()
    assert 'alt="validation change per layer and strength"' in (output / "run" / "report.html").read_text()


def test_the_demo_compares_models_and_transfers_its_vectors(demo_output) -> None:
    """Issue 20: the same recipes built and selected on two demo models of other families and widths, side by
    side, and the demo's vectors transferred to the third demo model, which shares the demo model's width and
    planted directions: the planted push moves the behaviour there too, as the construction says."""
    output, printed = demo_output
    study = pd.read_csv(output / "models" / "effects.csv")
    assert set(study.model) == {"demo", "demo-qwen"} and (output / "models" / "report.html").is_file()
    for model, rows in study[study.selected & (study.task == "demo_sentiment")].groupby("model"):
        assert set(rows.vector) == {"caa:demo_sentiment", "ipasa:demo_sentiment"}, model
        assert (rows.verdict == "helps").all(), rows[["vector", "delta", "verdict"]]
    transfer = pd.read_csv(output / "transfer" / "effects.csv").set_index(["vector", "task"])
    assert set(transfer.built_for) == {"demo"}
    assert transfer.loc[("planted-mood.safetensors", "demo_sentiment")].verdict == "helps"
    table = printed[printed.index("across models") :]
    assert "demo-qwen-128 (from demo)" in table and "caa:demo_sentiment: helps on 2 of 2 models" in table
