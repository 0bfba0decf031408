"""The report a reader uses (issue 23), on a synthetic run whose effects are chosen: a card per vector that
answers in sentences (its target, the selected strength, the effect with interval beyond its placebo draws,
what it costs on capabilities); an off-target effect labelled off-target, never "helps"; the ranking per
behaviour task with tiers the paired tests cannot split; and, in headless Chromium, the table of every cell
filtered by the page's own script, a card's link landing on the table filtered to its rows, with no console
error and no network request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser import chromium
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis.api import analyze
from steer_eval.analysis.summary import plain_words
from steer_eval.report import build_report
from steer_eval.report.cards import vector_cards
from steer_eval.run.grid import Cell

N = 400


def _raised(base: np.ndarray, share: float, rng) -> np.ndarray:
    out = base.copy()
    out[(base == 0) & (rng.random(len(base)) < share)] = 1.0
    return out


def _lowered(base: np.ndarray, share: float, rng) -> np.ndarray:
    out = base.copy()
    out[(base == 1) & (rng.random(len(base)) < share)] = 0.0
    return out


@pytest.fixture(scope="module")
def reader_run(tmp_path_factory) -> Path:
    """`strong` (made for `mood`) raises mood a lot, moves `style` (another family) too and costs `facts` at
    strength 2; `twin` does what `strong` does on mood (a tie); `weak` barely moves mood. Each has one
    placebo draw that does nothing; strength 1 is each vector's validation-selected strength."""
    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("reader") / "run"
    run = SyntheticRun(root)
    mood, style = task_ref("mood", family="sentiment"), task_ref("style", family="alignment")
    facts = task_ref("facts", kind="intelligence", family="knowledge")
    base = {t.name: (rng.random(N) < 0.5).astype(float) for t in (mood, style)}
    base["facts"] = (rng.random(N) < 0.9).astype(float)
    for task in (mood, style, facts):
        run.add(Cell(task, 0, 0), base[task.name])
    strong_mood = _raised(base["mood"], 0.6, rng)
    effects = {
        "strong": {"mood": strong_mood, "style": _raised(base["style"], 0.5, rng)},
        "twin": {"mood": strong_mood.copy()},
        "weak": {"mood": _raised(base["mood"], 0.03, rng)},
    }
    for name, moved in effects.items():
        vector, placebo = (
            vector_ref(f"{name}.safetensors"),
            vector_ref(f"random({name})", control_of=f"{name}.safetensors"),
        )
        for alpha in (1.0, 2.0):
            for task in (mood, style, facts):
                outcome = moved.get(task.name, base[task.name])
                if task.name == "facts" and name == "strong" and alpha == 2.0:
                    outcome = _lowered(base["facts"], 0.4, rng)
                run.add(Cell(task, 0, 0, vector, alpha, 1), outcome)
                run.add(Cell(task, 0, 0, placebo, alpha, 1), base[task.name])
        run.vectors[vector.label].update(target_task="mood", selected={"alpha": 1.0, "layer": 1})
        run.vectors[placebo.label].update(selected={"alpha": 1.0, "layer": 1})
    run.finish()
    return root


def test_each_vector_gets_a_card_that_answers_in_sentences(reader_run: Path) -> None:
    analysis = analyze(reader_run)
    cards = {card["vector"]: card for card in vector_cards(analysis.effects, analysis.manifest, [])}
    assert set(cards) == {"strong.safetensors", "twin.safetensors", "weak.safetensors"}, "no card for placebos"
    strong = " | ".join(cards["strong.safetensors"]["lines"])
    assert cards["strong.safetensors"]["target"] == "mood" and cards["strong.safetensors"]["verdict"] == "helps"
    assert "raises wanted answers on mood by +" in strong and "at strength 1 (chosen on validation)" in strong
    assert "beyond any of 1 same-norm placebo draw" in strong
    assert (
        "non-inferior on" in strong
        and "its largest cost at any strength:" in strong
        and "on facts at strength 2" in strong
    )
    assert "off-target (a behaviour of another family): moves style +" in strong
    weak = " | ".join(cards["weak.safetensors"]["lines"])
    assert "raises wanted answers" not in weak


def test_a_rival_arm_gets_a_card_whose_targets_are_the_tasks_it_asks(tmp_path: Path) -> None:
    """An instruction arm asks each behaviour task for its own behaviour: its card names each of them, with
    no strength and no placebo (its reference is the plain baseline); its capability cost has no strength."""
    from steer_eval.run.arms import ArmRef

    rng = np.random.default_rng(5)
    run = SyntheticRun(tmp_path / "run")
    mood, style = task_ref("mood", family="sentiment"), task_ref("style", family="alignment")
    facts = task_ref("facts", kind="intelligence", family="knowledge")
    base = {t.name: (rng.random(N) < 0.5).astype(float) for t in (mood, style, facts)}
    for task in (mood, style, facts):
        run.add(Cell(task, 0, 0), base[task.name])
    ask, shots = ArmRef("prompt", "ask", "Answer in the task's spirit."), ArmRef("fewshot", "3", shots=3)
    run.add(Cell(mood, 0, 0, arm=ask), _raised(base["mood"], 0.6, rng))
    run.add(Cell(style, 0, 0, arm=ask), base["style"])
    run.add(Cell(facts, 0, 0, arm=ask), _lowered(base["facts"], 0.5, rng))
    run.add(Cell(mood, 0, 0, arm=shots), _raised(base["mood"], 0.5, rng))
    vector = vector_ref("v.safetensors")
    run.add(Cell(mood, 0, 0, vector, 1.0, 1), _raised(base["mood"], 0.3, rng))
    run.vectors[vector.label].update(target_task="mood", selected={"alpha": 1.0, "layer": 1})
    run.finish()
    analysis = analyze(tmp_path / "run")
    cards = {card["vector"]: card for card in vector_cards(analysis.effects, analysis.manifest, [])}
    assert set(cards) == {"v.safetensors", "prompt:ask", "fewshot:3"}
    prompt, fewshot = cards["prompt:ask"], cards["fewshot:3"]
    assert prompt["arm"] and prompt["target"] == "an instruction asking for each task's behaviour"
    assert fewshot["target"] == "3 demonstrations of each task's behaviour" and fewshot["verdict"] == "helps"
    words = " | ".join(prompt["lines"])
    assert "raises wanted answers on mood by +" in words and "no detectable effect on style" in words, words
    assert "strength" not in words and "placebo" not in words, words
    assert "it is non-inferior on 0 of 1 capability task(s); costs" in words and "on facts" in words, words
    assert prompt["verdict"] == "", "helps on one task and not the other: no single verdict on the card"
    assert not cards["v.safetensors"]["arm"] and cards["v.safetensors"]["target"] == "mood"
    html = build_report(tmp_path / "run").read_text()
    assert "a rival arm: an instruction asking for each task&#39;s behaviour" in html
    assert "no target task recorded" not in html


def test_a_vector_on_many_tasks_keeps_a_figure_of_six_panels() -> None:
    """Its target first, then behaviours, then capabilities; past six tasks the last panel aggregates."""
    import pandas as pd

    from steer_eval.report.vector_figures import panel_tasks, vector_panels

    kinds = ["intelligence", "behavior"] * 5
    rows = pd.DataFrame([{"task": f"t{i}", "kind": kinds[i], "alpha": a, "delta": 0.01 * i * a, "ci_low": 0.0,
                          "ci_high": 0.1, "placebo_delta_low": 0.0, "placebo_delta_high": 0.01, "verdict": "helps"}
                         for i in range(10) for a in (1.0, 2.0)])  # fmt: skip
    shown, rest = panel_tasks(rows, "t4")
    assert shown == ["t4", "t1", "t3", "t5", "t7"] and rest == ["t9", "t0", "t2", "t6", "t8"]
    assert panel_tasks(rows[rows.task.isin(["t0", "t1"])], None) == (["t1", "t0"], [])
    assert vector_panels(rows, "t4").startswith("data:image/png;base64,")


def test_the_effects_figure_shows_selected_strengths_and_aggregates_past_sixty_rows() -> None:
    """A selected vector is drawn at its selected strength only (one without a selection at all of its
    strengths); 10 vectors on 30 tasks are one row per vector, not 300 rows of a forest."""
    import base64
    from io import BytesIO

    import pandas as pd
    from PIL import Image

    from steer_eval.report.figures import at_selected, forest

    def frame(vectors: int, tasks: int) -> pd.DataFrame:
        return pd.DataFrame([{"task": f"t{t}", "kind": "behavior", "vector": f"v{v}", "layer": 1, "alpha": a,
                              "delta": 0.01 * (t - v), "ci_low": -0.1, "ci_high": 0.1, "verdict": "helps",
                              "selected": a == 2.0 and v > 0}
                             for v in range(vectors) for t in range(tasks) for a in (1.0, 2.0)])  # fmt: skip

    small = at_selected(frame(2, 3))
    kept = sorted(zip(small.vector, small.alpha, strict=True))
    assert kept == [("v0", 1.0)] * 3 + [("v0", 2.0)] * 3 + [("v1", 2.0)] * 3

    def height(uri: str) -> int:
        return Image.open(BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size[1]

    few, many = forest(frame(2, 3), "behavior"), forest(frame(10, 30), "behavior")
    assert height(many) < 700 < 0.28 * 90 * 300, "one row per vector"
    assert height(few) < height(many) and forest(frame(2, 3), "intelligence") is None


def test_a_run_without_steered_cells_or_behaviours_is_told_plainly(tmp_path: Path, capsys) -> None:
    """Only the baseline: the report is written and says there are no steered cells (it crashed before); only
    capability tasks: the card says what cannot be told, and what the vector costs."""
    from steer_eval.cli import main

    rng = np.random.default_rng(2)
    bare = SyntheticRun(tmp_path / "bare")
    bare.add(Cell(task_ref("mood"), 0, 0), (rng.random(50) < 0.5).astype(float))
    bare.finish()
    assert main(["report", str(tmp_path / "bare")]) == 0
    html = (tmp_path / "bare" / "report.html").read_text()
    assert '<p class="muted">No steered cells.</p>' in html and "0 steered cells" in html
    facts = task_ref("facts", kind="intelligence", family="knowledge")
    capable = SyntheticRun(tmp_path / "capable")
    base = (rng.random(N) < 0.8).astype(float)
    capable.add(Cell(facts, 0, 0), base)
    vector = vector_ref("v.safetensors")
    for alpha in (1.0, 2.0):
        capable.add(Cell(facts, 0, 0, vector, alpha, 1), _lowered(base, 0.5 if alpha == 2.0 else 0.0, rng))
    capable.vectors[vector.label].update(selected={"alpha": 2.0, "layer": 1})
    capable.finish()
    assert main(["report", str(tmp_path / "capable")]) == 0
    analysis = analyze(tmp_path / "capable")
    (card,) = vector_cards(analysis.effects, analysis.manifest, [])
    words = " | ".join(card["lines"])
    assert "this run measured no behaviour task: what it does cannot be told here" in words, words
    assert "at strength 2 it is non-inferior on 0 of 1 capability task(s); costs" in words, words


def test_missing_cells_are_said_first(reader_run: Path, tmp_path: Path, capsys) -> None:
    """A deleted steered cell and a deleted baseline: the console and the top of the page say what the results
    leave out (a partial run analyses what it has, never silently)."""
    import shutil

    from steer_eval.cli import main

    run = tmp_path / "run"
    shutil.copytree(reader_run, run)
    cells = sorted((run / "cells").glob("*.json"))
    baseline = next(p for p in cells if '"vector": null' in p.read_text() and '"facts"' in p.read_text())
    baseline.unlink()
    next(p for p in cells if p.exists() and "weak.safetensors" in p.read_text()).unlink()
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 of the grid's 39 cells are not finished" in err, err
    assert "warning: 12 steered cell(s) have no finished unsteered baseline" in err, err
    html = (run / "report.html").read_text()
    top = html.split('<nav class="toc">')[0]
    assert "Incomplete run." in top and "2 of the grid&#39;s 39 cells are not finished" in top
    assert "results describe only the finished ones" in plain_words(analyze(run))


def test_a_wide_transfer_heat_map_is_split_into_strips() -> None:
    """60 evaluation tasks: three strips of at most 25 columns, one under another, each cell as wide as with 25."""
    import base64
    from io import BytesIO

    import pandas as pd
    from PIL import Image

    from steer_eval.report.holds import transfer_heatmap

    def size(tasks: int) -> tuple[int, int]:
        frame = pd.DataFrame([{"vector": f"v{v}", "trained_on": f"t{v}", "task": f"t{k}", "delta": 0.01 * (k - v)}
                              for v in range(4) for k in range(tasks)])  # fmt: skip
        uri = transfer_heatmap(frame)
        return Image.open(BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size

    (wide, tall), (one_wide, one_tall) = size(60), size(25)
    assert abs(wide - one_wide) < 0.1 * one_wide and tall > 2.5 * one_tall, (wide, tall, one_wide, one_tall)


@pytest.mark.parametrize(
    ("tasks", "vectors"),
    [
        (["demo_sentiment", "demo_sentiment_mc", "demo_facts", "a_rather_long_user_task_name_v2"], ["planted-mood"]),
        (["demo_sentiment", "demo_facts"], ["sentiment-caa.safetensors", "planted-mood.safetensors"]),  # demo's
    ],
    ids=["long task names", "few tasks, long vector names"],
)
def test_a_transfer_heat_map_makes_room_for_its_labels(tasks: list[str], vectors: list[str]) -> None:
    """The demo's transfer runs: vectors on a few tasks laid out without matplotlib giving up on the margins
    (its task names under the map, its vector names beside it)."""
    import warnings

    import pandas as pd

    from steer_eval.report.holds import transfer_heatmap

    frame = pd.DataFrame([{"vector": v, "trained_on": "demo_sentiment", "task": t, "delta": 0.1}
                          for t in tasks for v in vectors])  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert transfer_heatmap(frame).startswith("data:image/png;base64,")
    assert not [w for w in caught if "layout not applied" in str(w.message)], [str(w.message) for w in caught]


def test_an_off_target_effect_is_labelled_so_and_not_listed_as_helps(reader_run: Path) -> None:
    analysis = analyze(reader_run)
    effects = analysis.effects.set_index(["vector", "task", "alpha"])
    assert effects.loc[("strong.safetensors", "style", 1.0)].on_target is False
    assert effects.loc[("strong.safetensors", "mood", 1.0)].on_target is True
    words = plain_words(analysis)
    helps = words.split("\nhelps:\n")[1].split("\n\\S")[0].split("\nhurts:")[0]
    assert "on style" not in helps, helps
    assert "off-target (a behaviour of another family than the vector's own):" in words
    assert "strong.safetensors (layer 1): helps mood" in words and "off-target: moves style" in words


def test_a_vector_with_the_tasks_own_instruction_is_not_called_off_target() -> None:
    """`mood+prompt:honest` moving honesty is the honesty instruction doing its job (the demo's generation run
    printed it as the mood vector's off-target effect); with an instruction the user wrote, what it asks for
    is unknown."""
    from steer_eval.analysis.targets import mark_on_target

    manifest = {"vectors": {"mood.safetensors": {"target_task": "mood_gen"}},
                "tasks": [{"name": "mood_gen", "prompts": [["happy", "be happy"]]},
                          {"name": "honesty_gen", "prompts": [["honest", "be honest"]]}]}  # fmt: skip
    families = {"mood_gen": "sentiment", "honesty_gen": "alignment"}
    cases = [  # vector column, task, expected on_target
        ("mood.safetensors", "honesty_gen", False),
        ("mood.safetensors+prompt:honest", "honesty_gen", True),
        ("mood.safetensors+prompt:mine", "honesty_gen", None),
        ("mood.safetensors+prompt:mine", "mood_gen", True),
        ("prompt:honest", "honesty_gen", None),
    ]
    rows = [{"vector": v, "task": t, "family": families[t], "kind": "behavior",
             "arm": v[v.index("prompt:") :] if "prompt:" in v else ""} for v, t, _ in cases]  # fmt: skip
    mark_on_target(rows, manifest, families)
    assert [row["on_target"] for row in rows] == [expected for *_, expected in cases]


def test_the_ranking_groups_what_paired_tests_cannot_split(reader_run: Path) -> None:
    ranking = analyze(reader_run).ranking
    mood = ranking[ranking.task == "mood"].set_index("vector")
    assert list(mood.sort_values("rank").index[:2]) != ["weak.safetensors"]
    assert mood.loc["strong.safetensors"].tier == mood.loc["twin.safetensors"].tier == 1, "a tie shares its tier"
    assert mood.loc["weak.safetensors"].tier == 2 and mood.loc["weak.safetensors"]["rank"] == 3
    assert mood.selected.all() and set(mood.alpha) == {1.0}, "each at its validation-selected strength"


@pytest.mark.parametrize("page_rows", [200, 5])
def test_the_page_filters_its_table_and_a_card_lands_on_its_rows(reader_run: Path, tmp_path: Path, monkeypatch,
                                                                  page_rows: int) -> None:  # fmt: skip
    """With every row on one page and with pages of 5 (a large table draws a page of rows at a time, the next
    as the reader scrolls to it): the same filters, search, sort and links."""
    executable = chromium()
    from playwright.sync_api import sync_playwright

    import steer_eval.report.build as build

    monkeypatch.setattr(build, "PAGE_ROWS", page_rows)
    page_path = build_report(reader_run, tmp_path / "report.html")
    html = page_path.read_text()
    assert html.count("<script>") == 1, "one inline script, the page's own"
    assert html.count("<script") == 2 and html.count('<script type="application/json" id="cells-data">') == 1
    assert "<tr data-task" not in html, "the rows are data, drawn by the script"
    console, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: console.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri())
        matching = "parseInt(document.getElementById('cells-count').getAttribute('data-matches'))"
        drawn = "document.querySelectorAll('#cells-table tbody tr').length"

        def all_drawn() -> int:
            """Ask for the rest, page by page, as a reader would (in the page: scrolling may draw one meanwhile);
            the rows drawn then."""
            pages = page.evaluate("() => { const more = document.getElementById('cells-more'); let n = 0;"
                                  " while (!more.hidden && n < 100) { more.click(); n += 1; } return n; }")  # fmt: skip
            assert pages < 100
            return page.evaluate(drawn)

        assert page.evaluate(matching) == 36  # 3 tasks x 3 vectors x 2 strengths, and as many placebo cells
        assert page.evaluate(drawn) == min(36, page_rows), "only the first page is drawn on load"
        if page_rows < 36:  # a reader scrolling to the table's end gets the next page without asking
            page.evaluate("document.getElementById('cells-more').scrollIntoView()")
            page.wait_for_function(f"{drawn} > {page_rows}")
        assert all_drawn() == 36
        page.select_option("select[data-filter=task]", "facts")
        assert page.evaluate(matching) == 12 and all_drawn() == 12
        tasks = page.eval_on_selector_all("#cells-table tbody tr td:first-child", "c => c.map(x => x.textContent)")
        assert set(tasks) == {"facts"}
        page.select_option("select[data-filter=task]", "")
        page.fill("#cells-search", "off-target")
        assert page.evaluate(matching) == 2 and all_drawn() == 2, "strong on style at both strengths"
        page.fill("#cells-search", "")
        page.click("#vector-weak-safetensors a.rows-link")
        assert page.evaluate("location.hash") == "#cells"
        assert page.evaluate(matching) == 6 and page.input_value("select[data-filter=vector]") == "weak.safetensors"
        assert page.evaluate("document.getElementById('cells').getBoundingClientRect().top") < 50, "it lands there"
        assert all_drawn() == 6
        values = (
            "Array.from(document.querySelectorAll('#cells-table tbody tr td:nth-child(10)'))"
            ".map(c => parseFloat(c.getAttribute('data-value')))"
        )
        page.click("#cells-table thead th:nth-child(10)")  # the change, ascending
        all_drawn()
        ascending = page.evaluate(values)
        assert len(ascending) == 6 and ascending == sorted(ascending) and len(set(ascending)) > 1, ascending
        page.click("#cells-table thead th:nth-child(10)")  # and descending
        all_drawn()
        assert page.evaluate(values) == sorted(ascending, reverse=True)
        browser.close()
    assert not console, console
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
