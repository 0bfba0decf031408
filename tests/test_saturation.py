"""Saturation: cells whose baseline (or steered cell) sits at the bound of the measure, or nearer to it than
the minimum detectable effect, in the direction their verdict is about, are flagged (`saturated`, words in
`verdict_reason`, the console summary and the report); the verdict itself stays. Run stores are synthetic
(known outcomes) but written and read through the real run store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_page import cell_table
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis import analyze
from steer_eval.analysis.summary import plain_words
from steer_eval.run.grid import Cell

VEC = vector_ref("v.safetensors")


def _wrong_at(n: int, wrong: int) -> np.ndarray:
    out = np.ones(n)
    out[:wrong] = 0.0
    return out


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("saturation") / "run"
    run = SyntheticRun(root)
    cases = {
        # behaviour tasks (more target wanted): at the ceiling, within the MDE of it, mid-range
        "ceiling": (task_ref("ceiling"), np.ones(200), np.ones(200)),
        "near_ceiling": (task_ref("near_ceiling"), _wrong_at(200, 4), _wrong_at(200, 4)),
        "mid": (task_ref("mid"), (rng.random(400) < 0.5).astype(float), None),
        # unwanted target (fewer target answers is the help): target rate 0 is the floor no help can pass;
        # target rate 1 leaves all the room
        "unwanted_floor": (task_ref("unwanted_floor", target_is_desired=False), np.zeros(200), np.zeros(200)),
        "unwanted_top": (task_ref("unwanted_top", target_is_desired=False), np.ones(200), np.ones(200)),
        # capabilities: the question is harm; at the floor nothing can get worse, at the ceiling all can
        "cap_floor": (task_ref("cap_floor", kind="intelligence"), np.zeros(1000), np.zeros(1000)),
        "cap_ceiling": (task_ref("cap_ceiling", kind="intelligence"), np.ones(200), np.ones(200)),
        # a significant gain that ends at the ceiling: helps, but the improvement may be capped
        "capped_gain": (task_ref("capped_gain"), _wrong_at(300, 150), np.ones(300)),
    }
    for task, base, steered in cases.values():
        if steered is None:  # a few items flip each way: no effect
            steered = base.copy()
            steered[:6] = 1 - steered[:6]
        run.add(Cell(task, 0, 0), base)
        run.add(Cell(task, 0, 0, VEC, 2.0, 3), steered)
    run.finish()
    analysis = analyze(root)
    analysis.write(root)
    return root, analysis, analysis.effects.set_index("task")


def test_a_ceiling_baseline_with_no_effect_is_flagged_and_its_verdict_stays(analysed) -> None:
    _, _, e = analysed
    row = e.loc["ceiling"]
    assert row.verdict == "no detectable effect" and row.saturated
    assert "saturated: the baseline's accuracy 1.000 is at the ceiling" in row.verdict_reason
    assert row.verdict_reason.startswith(f"minimum detectable effect {row.mde:.3f}")  # the rule's reason first


def test_within_the_minimum_detectable_effect_of_the_ceiling_is_flagged(analysed) -> None:
    _, _, e = analysed
    row = e.loc["near_ceiling"]
    assert 1 - row.baseline == pytest.approx(0.02) and row.mde > 0.02  # less room than the data can detect
    assert row.saturated and "0.020 from the ceiling, less than the minimum detectable effect" in row.verdict_reason


def test_a_mid_range_baseline_is_not_flagged(analysed) -> None:
    _, _, e = analysed
    row = e.loc["mid"]
    assert row.verdict == "no detectable effect" and not row.saturated and "saturated" not in row.verdict_reason


def test_an_unwanted_target_at_its_floor_is_flagged_and_at_its_top_is_not(analysed) -> None:
    _, _, e = analysed
    floor, top = e.loc["unwanted_floor"], e.loc["unwanted_top"]
    assert floor.desired_sign == -1 and floor.verdict == "no detectable effect" and floor.saturated
    assert "target rate 0.000 is at the floor" in floor.verdict_reason
    assert top.verdict == "no detectable effect" and not top.saturated  # all the room to give fewer targets


def test_capabilities_are_judged_on_the_room_to_lose(analysed) -> None:
    _, _, e = analysed
    floor, ceiling = e.loc["cap_floor"], e.loc["cap_ceiling"]
    # at accuracy 0 nothing can get worse: non-inferior stays, but it says nothing
    assert floor.verdict == "non-inferior" and floor.saturated
    assert "accuracy 0.000 is at the floor (0); no worsening could have shown" in floor.verdict_reason
    # at the ceiling "it did not hurt" is what a capability verdict is about, and there was room to lose
    assert ceiling.verdict == "no detectable effect" and not ceiling.saturated


def test_a_significant_gain_that_reaches_the_ceiling_is_flagged_as_capped(analysed) -> None:
    _, _, e = analysed
    row = e.loc["capped_gain"]
    assert row.verdict == "helps" and row.saturated
    reason = row.verdict_reason
    assert "the steered cell's accuracy 1.000 is at the ceiling (1); the improvement may be capped" in reason


def test_saturation_in_effects_csv_the_summary_and_the_report(analysed) -> None:
    from steer_eval.report.build import render

    root, analysis, _ = analysed
    table = pd.read_csv(root / "effects.csv").set_index("task")
    assert table.columns[table.columns.get_loc("verdict_reason") + 1] == "saturated"
    assert table.saturated.to_dict() == analysis.effects.set_index("task").saturated.to_dict()
    words = plain_words(analysis)
    assert "saturated: 4 inconclusive, no-effect or non-inferior cells" in words
    assert "possibly capped" in words  # the capped gain among the helps
    html = render(analysis)
    assert sum(row["saturated"] for row in cell_table(html)) == 5, "5 cells marked in the table"
    assert html.count('<span class="verdict saturated">saturated</span>') == 1  # and the legend says what it means
