"""What a kill costs (issue 22): a sweep on the demo model killed with SIGKILL at random moments K times,
resumed each time with the same command, then finished; compared with an uninterrupted run of the same
command. Prints, and with `--json FILE` writes:

- `cells_lost`: grid cells missing or damaged at the end (must be 0);
- `cells_recomputed`: cell files written more than once over the attempts (a kill never leaves a cell half
  written, so a finished cell is never computed again);
- `work_lost_seconds_max` / `_median`: per kill, the stretch since the attempt last kept work on disk (a cell
  file, or its prefix group's progress file: steering/checkpoint.py), or since it started, model loading
  included, when it kept nothing: finished work that the kill threw away (target: at most 60 s);
- `longest_without_a_cell_seconds`: the longest stretch of the uninterrupted run (its start included) in
  which no cell was written: what one kill could throw away if progress inside a prefix group were not kept;
- `kills_without_progress`: attempts killed before keeping anything;
- `identical`: effects.csv, cells.csv and results.json (minus timestamps) equal the uninterrupted run's.

The grid is one long prefix group: demo_sentiment with 5 demonstrations per item, 16 strengths, 5 placebo
draws per strength (97 settings) scored one request at a time (`--batch-size 1`): about a minute of sweep
before the first cell on 2 CPU cores, then a cell a second.

    python bench/bench_resume.py [--kills 20] [--seed 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ALPHAS = "-8,-6,-4,-3,-2,-1.5,-1,-0.5,0.5,1,1.5,2,3,4,6,8"  # 16 strengths: long prefix groups
TASKS = "demo_sentiment"


def command(vector: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "steer_eval", "--model", "demo", "--vectors", str(vector), "--tasks", TASKS,
            "--alphas", ALPHAS, "--controls", "random:5", "--fewshot", "5", "--device", "cpu", "--batch-size", "1",
            "--output", str(output)]  # fmt: skip


def cell_times(output: Path) -> dict[str, float]:
    cells = output / "cells"
    return {p.name: p.stat().st_mtime for p in cells.glob("*.json")} if cells.is_dir() else {}


def kept_times(output: Path) -> dict[str, float]:
    """When each cell file and each prefix group's progress file was last written."""
    times = cell_times(output)
    partial = output / "partial"
    for path in partial.glob("*.safetensors") if partial.is_dir() else []:
        with contextlib.suppress(FileNotFoundError):  # removed as its group finished
            times[f"partial/{path.name}"] = path.stat().st_mtime
    return times


def longest_without_a_cell(times: list[float], started: float) -> float:
    """The longest stretch with no cell written, from the start: a group's cells are written when it ends."""
    stamps = [started, *sorted(times)]
    return max((b - a for a, b in itertools.pairwise(stamps)), default=0.0)


def comparable(output: Path) -> dict[str, str]:
    results = json.loads((output / "results.json").read_text())
    return {
        "effects.csv": (output / "effects.csv").read_text(),
        "cells.csv": (output / "cells.csv").read_text(),
        "results.json": json.dumps({k: v for k, v in results.items() if k != "generated"}, sort_keys=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    from steer_eval.demo.cache import demo_model_dir
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector
    from steer_eval.run.store import RunStore
    from steer_eval.vectors.format import save_vector

    demo_model_dir(progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vector = save_vector(planted_vector("mood", DemoRecipe()), root / "mood.safetensors")
        started = time.time()
        subprocess.run(command(vector, root / "whole"), check=True, capture_output=True)
        whole_seconds = time.time() - started
        whole_times = list(cell_times(root / "whole").values())
        setup_seconds = min(whole_times) - started  # start-up until the first cell
        group_seconds = longest_without_a_cell(whole_times, started)
        grid = json.loads((root / "whole" / "manifest.json").read_text())["grid"]["cells"]

        output = root / "killed"
        writes: dict[str, int] = {}
        lost, no_progress = [], 0
        for _ in range(args.kills):
            before = cell_times(output)
            attempt_start = time.time()
            process = subprocess.Popen(command(vector, output), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # a kill lands anywhere in the first 80% of what this attempt may have left to do: model loading
            # (about 10 s) and the cells not yet written (their group's sweep may be partly kept on disk)
            left = 1 - len(before) / len(grid)
            time.sleep(rng.uniform(2.0, max(3.0, 0.8 * (10 + left * whole_seconds))))
            if process.poll() is not None:
                if len(cell_times(output)) == len(grid):
                    break  # it finished before the kill: the remaining kills have nothing to interrupt
                continue
            kept = kept_times(output)  # the progress files as the kill finds them
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_at = time.time()
            after = cell_times(output)
            new = {name: t for name, t in after.items() if before.get(name) != t}
            for name in new:
                writes[name] = writes.get(name, 0) + 1
            progress = [t for name, t in kept.items() if name.startswith("partial/") and t >= attempt_start]
            if not new and not progress:
                no_progress += 1
            lost.append(killed_at - max([*new.values(), *progress], default=attempt_start))
        before = cell_times(output)
        subprocess.run(command(vector, output), check=True, capture_output=True)
        for name, stamp in cell_times(output).items():
            if before.get(name) != stamp:
                writes[name] = writes.get(name, 0) + 1
        store = RunStore(output)
        missing = [key for key in grid if store.read_cell(key) is None]
        ends, expected = comparable(output), comparable(root / "whole")
        differs = [name for name in expected if ends[name] != expected[name]]
        identical = not differs

    report = {
        "kills": len(lost),
        "grid_cells": len(grid),
        "whole_run_seconds": round(whole_seconds, 1),
        "setup_seconds": round(setup_seconds, 1),
        "longest_without_a_cell_seconds": round(group_seconds, 1),
        "cells_lost": len(missing),
        "cells_recomputed": sum(count - 1 for count in writes.values() if count > 1),
        "kills_without_progress": no_progress,
        "work_lost_seconds_max": round(max(lost), 1) if lost else 0.0,
        "work_lost_seconds_median": round(statistics.median(lost), 1) if lost else 0.0,
        "identical": identical,
        "differs": differs,
    }
    for key, value in report.items():
        print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
