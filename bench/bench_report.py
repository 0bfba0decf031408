"""Report rendering time for a large run: 50 tasks x 5 vectors x 6 strengths x 1000 items (synthetic
outcomes in a real run store): analysis + figures + HTML. Target: at most 30 s.

    python bench/bench_report.py [--tasks 50] [--vectors 5] [--strengths 6] [--items 1000]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_analysis import build, grid_arguments

from steer_eval.report import build_report


def main() -> None:
    args = grid_arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "run"
        cells = build(root, args.tasks, args.vectors, args.strengths, args.items)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            path = build_report(root)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(
            f"report for {cells} cells x {args.items} items ({path.stat().st_size / 1e6:.1f} MB): median {median:.1f} s"
        )
        print(f"target <= 30 s; ratio to target {median / 30:.2f}")


if __name__ == "__main__":
    main()
