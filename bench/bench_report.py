"""The report at scale (issue 23): a synthetic run store of 1,000 and of 10,000 steered cells (behaviour and
capability tasks, vectors with a same-norm placebo each, many strengths; 200 items per cell), analysed, then
the report built from the analysis; the page's size; and the time headless Chromium takes to load and lay
it out. Prints, and with `--json FILE` writes, per size N (`1k`, `10k`): `analysis_seconds_N`,
`report_seconds_N` (building report.html from the analysis: cards, figures, the table of every cell),
`report_mb_N`, `render_seconds_N` (the median of 3 loads), `render_seconds_first_N` (the first of them,
with a cold renderer) and `search_seconds_N` (a search typed into the table of every cell: the median time
until its first page of matches is laid out). Targets at 10,000 cells: report at most 60 s on 2 CPU cores,
page at most 15 MB, rendered in at most 5 s.

    python bench/bench_report.py [--sizes 1000,10000] [--items 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis import analyze
from steer_eval.report.build import write_report
from steer_eval.run.grid import Cell

TARGETS = {"report_seconds_10k": 60.0, "report_mb_10k": 15.0, "render_seconds_10k": 5.0}


def shape(cells: int) -> tuple[int, int, int]:
    """(tasks, vectors, strengths) with tasks x vectors x strengths x 2 (vector and its placebo) ~ cells."""
    tasks = 10 if cells <= 1000 else 50
    vectors = 5 if cells <= 1000 else 10
    return tasks, vectors, max(1, round(cells / (2 * tasks * vectors)))


def build(root: Path, cells: int, items: int) -> int:
    rng = np.random.default_rng(0)
    run = SyntheticRun(root)
    tasks, vectors, strengths = shape(cells)
    alphas = [float(a) for a in np.round(np.linspace(-8, 8, strengths + 1), 2) if a != 0][:strengths]
    for t in range(tasks):
        behaviour = t % 2 == 0
        task = task_ref(f"task{t}", "behavior" if behaviour else "intelligence", family=f"family{t % 6}")
        base = rng.random(items) < 0.6
        run.add(Cell(task, 0, 0), base.astype(float))
        for v in range(vectors):
            vector = vector_ref(f"vec{v}.safetensors")
            placebo = vector_ref(f"random(vec{v})", control_of=vector.label)
            for alpha in alphas:
                for ref, share in ((vector, 0.02 * abs(alpha)), (placebo, 0.01)):
                    flip = rng.random(items) < share
                    run.add(Cell(task, 0, 0, ref, alpha, 1), np.where(flip, ~base, base).astype(float))
            run.vectors[vector.label].update(target_task=f"task{2 * (v % max(1, tasks // 2))}",
                                              selected={"alpha": alphas[len(alphas) // 2], "layer": 1})  # fmt: skip
    run.finish()
    return len(run.keys) - tasks


# a reader types into the search box: the milliseconds until the matching rows' first page is laid out
SEARCH = """() => { const box = document.getElementById('cells-search'); const start = performance.now();
  box.value = 'vec3'; box.dispatchEvent(new Event('input'));
  document.body.getBoundingClientRect(); return performance.now() - start; }"""


def render_seconds(page: Path, repeats: int = 3) -> tuple[float, float, float] | None:
    """(median, first) seconds, over `repeats` loads in fresh tabs, for headless Chromium to load the page and
    lay it out, and the median seconds a search through every row of the table takes to show its first page
    (None: no Chromium here). The browser's own start-up is not counted."""
    names = ("chromium", "chromium-browser", "google-chrome")
    executable = next((shutil.which(name) for name in names if shutil.which(name)), None)
    if executable is None:
        return None
    from playwright.sync_api import sync_playwright

    times, searches = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        for _ in range(repeats):
            tab = browser.new_page(viewport={"width": 1280, "height": 1000})
            start = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="load", timeout=120_000)
            tab.evaluate("document.body.getBoundingClientRect().height")  # forces layout
            times.append(time.perf_counter() - start)
            searches.append(tab.evaluate(SEARCH))
            tab.close()
        browser.close()
    return statistics.median(times), times[0], statistics.median(searches) / 1000


def render_in_a_fresh_process(page: Path) -> tuple[float, float, float] | None:
    """`render_seconds` in its own process: the browser then competes with nothing this one still holds (the
    analysis of 10,000 cells), as when a reader opens the page."""
    import subprocess

    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from bench_report import render_seconds; "
    code += f"from pathlib import Path; import json; print(json.dumps(render_seconds(Path({str(page)!r}))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    value = json.loads(done.stdout.strip().splitlines()[-1])
    return None if value is None else tuple(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {}
    for size in (int(s) for s in args.sizes.split(",")):
        name = f"{size // 1000}k" if size >= 1000 else str(size)
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "run"
            steered = build(root, size, args.items)
            start = time.perf_counter()
            analysis = analyze(root)
            report[f"analysis_seconds_{name}"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            page = write_report(analysis, root / "report.html")
            report[f"report_seconds_{name}"] = round(time.perf_counter() - start, 1)
            report[f"report_mb_{name}"] = round(page.stat().st_size / 1e6, 2)
            seconds = render_in_a_fresh_process(page)
            report[f"render_seconds_{name}"] = None if seconds is None else round(seconds[0], 1)
            report[f"render_seconds_first_{name}"] = None if seconds is None else round(seconds[1], 1)
            report[f"search_seconds_{name}"] = None if seconds is None else round(seconds[2], 2)
            report[f"cells_{name}"] = steered
    for key, value in report.items():
        target = TARGETS.get(key)
        ratio = f" (target <= {target:g}; ratio {value / target:.2f})" if target and value is not None else ""
        print(f"{key}: {value}{ratio}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
