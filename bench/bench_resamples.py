"""Resamples cost what further vectors cost (issue 19): a vector file with R stored resamples runs them as
further vectors of the same sweep (shared baseline, prefix reuse), so its run should cost what a run of R + 1
separate vector files with the same tensors costs. Measured side by side in one process on the demo model:
the two runs, alternated, each into a fresh folder, medians of the repeats, and the ratio (target <= 1.05).
Also prints the cost per steered cell against a one-vector run (the sweep's per-strength cost, for scale).

    python bench/bench_resamples.py [--resamples 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from steer_eval.demo.model import DemoRecipe
from steer_eval.demo.run import planted_vector
from steer_eval.run.config import RunConfig
from steer_eval.run.main import run
from steer_eval.vectors.format import SteeringVector, save_vector

TASKS = ["demo_sentiment", "demo_sycophancy"]
ALPHAS = [0.5, 1.0, 2.0]


def vectors(folder: Path, resamples: int) -> tuple[Path, list[Path]]:
    """One file with `resamples` stored resamples (the mood push scaled a little differently each), and the
    same tensors as separate files."""
    main = planted_vector("mood", DemoRecipe())
    copies = [{k: t * (1 + 0.05 * (r + 1)) for k, t in main.directions.items()} for r in range(resamples)]
    stored = SteeringVector(main.directions, main.meta, resamples=copies)
    single = save_vector(stored, folder / "with-resamples.safetensors")
    separate = [save_vector(SteeringVector(main.directions, main.meta), folder / "v0.safetensors")]
    for r, tensors in enumerate(copies):
        meta = dataclasses.replace(main.meta, extra={})
        separate.append(save_vector(SteeringVector(tensors, meta), folder / f"v{r + 1}.safetensors"))
    return single, separate


def timed(files: list[Path], output: Path) -> float:
    config = RunConfig(model="demo", vectors=files, tasks=TASKS, alphas=ALPHAS, device="cpu", batch_size="64",
                       output=output)  # fmt: skip
    start = time.perf_counter()
    run(config, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        single, separate = vectors(root, args.resamples)
        timed([separate[0]], root / "warm")  # model load and task caches, outside the timing
        times: dict[str, list[float]] = {"resamples": [], "separate": [], "one": []}
        for repeat in range(args.repeats):
            times["resamples"].append(timed([single], root / f"resamples-{repeat}"))
            times["separate"].append(timed(separate, root / f"separate-{repeat}"))
            times["one"].append(timed([separate[0]], root / f"one-{repeat}"))
    median = {name: statistics.median(values) for name, values in times.items()}
    vectors_run = args.resamples + 1
    cells = len(TASKS) * len(ALPHAS)
    print(f"demo model, {len(TASKS)} tasks x {len(ALPHAS)} strengths, medians of {args.repeats} (seconds, whole run)")
    print(f"  1 vector + {args.resamples} stored resamples: {median['resamples']:.2f}")
    print(f"  {vectors_run} separate vector files: {median['separate']:.2f}")
    print(f"  1 vector alone: {median['one']:.2f}")
    ratio = median["resamples"] / median["separate"]
    print(f"ratio resamples / separate files: {ratio:.3f} (target <= 1.05)")
    extra = (median["resamples"] - median["one"]) / (args.resamples * cells)
    print(f"each resample cell adds {extra:.3f} s ({cells} cells per vector)")


if __name__ == "__main__":
    main()
