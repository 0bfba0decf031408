"""Analysis time for a large run: 50 tasks x 5 vectors x 6 strengths x 1000 items (+ baselines), written as
a real run store of synthetic outcomes, then `analyze` + `write`. Target: at most 20 s.

    python bench/bench_analysis.py [--tasks 50] [--vectors 5] [--strengths 6] [--items 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from synthetic_run import SyntheticRun, task_ref, vector_ref

from steer_eval.analysis import analyze
from steer_eval.run.grid import Cell


def build(root: Path, tasks: int, vectors: int, strengths: int, items: int) -> int:
    rng = np.random.default_rng(0)
    run = SyntheticRun(root)
    alphas = [a for a in (-4, -2, 1, 2, 4, 8, 16, 32)][:strengths]
    for t in range(tasks):
        task = task_ref(f"task{t}", "behavior" if t % 2 else "intelligence")
        base = rng.random(items) < 0.6
        run.add(Cell(task, 0, 0), base.astype(float), rng.normal(0.3, 1.0, items))
        for v in range(vectors):
            vector = vector_ref(f"vec{v}")
            for alpha in alphas:
                flip = rng.random(items) < 0.1
                run.add(
                    Cell(task, 0, 0, vector, float(alpha), 10, None),
                    np.where(flip, ~base, base).astype(float),
                    rng.normal(0.3 + 0.02 * alpha, 1.0, items),
                )
    run.finish()
    return len(run.keys)


def grid_arguments(description: str) -> argparse.Namespace:
    """The size of the synthetic run (shared with bench_report.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--vectors", type=int, default=5)
    parser.add_argument("--strengths", type=int, default=6)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = grid_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "run"
        start = time.perf_counter()
        cells = build(root, args.tasks, args.vectors, args.strengths, args.items)
        print(f"wrote {cells} cells x {args.items} items in {time.perf_counter() - start:.1f} s")
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            analysis = analyze(root)
            analysis.write(root)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"analysis of {len(analysis.effects)} steered cells: median {median:.1f} s over {args.repeats} runs")
        print(f"target <= 20 s; ratio to target {median / 20:.2f}")


if __name__ == "__main__":
    main()
