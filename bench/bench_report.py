"""Report rendering time for a large run: 50 tasks x 5 vectors x 6 strengths x 1000 items (synthetic
outcomes in a real run store): analysis + figures + HTML. Target: at most 30 s.

    python bench/bench_report.py [--tasks 50] [--vectors 5] [--strengths 6] [--items 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_analysis import build

from steer_eval.report import build_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--vectors", type=int, default=5)
    parser.add_argument("--strengths", type=int, default=6)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
