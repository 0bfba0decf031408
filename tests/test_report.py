"""The HTML report as a person sees it: rendered in headless Chromium (Debian's package) with a fresh
profile, screenshot not blank, no console errors, no network requests; item text with markup appears
escaped; `steer-eval report` re-renders from a run folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser import assert_renders, chromium, render
from synthetic_run import SyntheticRun, records, task_ref, vector_ref

from steer_eval.cli import main
from steer_eval.report import build_report
from steer_eval.run.grid import Cell

HOSTILE = '<script>document.title="pwned"</script><b>bold?</b> & "quotes"'


@pytest.fixture
def run_with_hostile_text(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    run = SyntheticRun(tmp_path / "run")
    task, vec = task_ref("hostile <task></script><img src=x onerror=alert(1)>"), vector_ref("v<i>.safetensors")
    base = (rng.random(200) < 0.4).astype(float)
    key = run.add(Cell(task, 0, 0), base)
    content = run.store.read_cell(key)
    texts = records(base)
    for record in texts:
        record.update(text=f"Question {record['item_id']}: {HOSTILE}", choices=[" yes <b>", " no </td>"])
    run.store.write_cell(key, {**content, "records": texts})
    steered = base.copy()
    steered[rng.random(200) < 0.3] = 1.0
    for alpha in (1.0, 2.0):
        run.add(Cell(task, 0, 0, vec, alpha, 2), steered)
    run.finish()
    return tmp_path / "run"


def test_item_text_is_escaped(run_with_hostile_text: Path) -> None:
    html = build_report(run_with_hostile_text).read_text()
    assert "<script>document.title" not in html and "&lt;script&gt;document.title" in html
    assert "<b>bold?</b>" not in html and "v&lt;i&gt;.safetensors" in html
    # the page's own inline script, and the table's rows as a JSON block no text can close
    assert html.lower().count("<script") == 2 and html.count("<script>") == 1
    block = html.split('<script type="application/json" id="cells-data">')[1].split("</script>")[0]
    assert "<" not in block and "\\u003c/script\\u003e\\u003cimg" in block
    assert (run_with_hostile_text / "effects.csv").is_file() and (run_with_hostile_text / "results.json").is_file()


def test_hostile_text_stays_text_in_the_browser(run_with_hostile_text: Path) -> None:
    """The table drawn from the JSON block shows a hostile task name as text: nothing in it runs."""
    rendered = render(build_report(run_with_hostile_text))
    assert not rendered.console, rendered.console
    assert rendered.title.startswith("steer-eval report") and "pwned" not in rendered.title
    assert rendered.images and all(ok and width > 0 for ok, width in rendered.images), "no broken <img src=x>"
    assert "hostile <task></script><img src=x onerror=alert(1)>" in rendered.table_text


def test_report_in_headless_chromium(demo_dir: Path, tmp_path: Path) -> None:
    chromium()
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector
    from steer_eval.run.config import RunConfig
    from steer_eval.run.main import run
    from steer_eval.vectors.format import save_vector

    vector = save_vector(planted_vector("mood", DemoRecipe()), tmp_path / "sentiment.safetensors")
    config = RunConfig(model="demo", vectors=[vector], tasks=["demo"], alphas=[-1.0, 1.0, 4.0], controls=["random:1"],
                       limit=40, device="cpu", output=tmp_path / "run")  # fmt: skip
    run(config, progress=False)
    assert main(["report", str(tmp_path / "run")]) == 0
    rendered = render(tmp_path / "run" / "report.html")
    assert_renders(rendered, "steer-eval report", 1600)
    shot = rendered.screenshot
    (tmp_path / "report.png").write_bytes(shot)


def test_a_steerability_figure_past_its_panels_says_how_many_series_it_leaves_to_the_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    run = SyntheticRun(tmp_path / "run")
    task = task_ref("many")
    base = (rng.random(60) < 0.5).astype(float)
    run.add(Cell(task, 0, 0), base)
    for v in range(14):
        for alpha in (1.0, 2.0):
            steered = base.copy()
            steered[rng.random(60) < 0.1 * alpha] = 1.0
            run.add(Cell(task, 0, 0, vector_ref(f"v{v}.safetensors"), alpha, 2), steered)
    run.finish()
    html = build_report(tmp_path / "run").read_text()
    assert "The first 12 of 14 series; the table below has every one." in html
    assert html.count("v13.safetensors</td>") >= 1, "the table keeps the series the figure leaves out"
