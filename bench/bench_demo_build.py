"""Time putting the demo model into an empty cache: from the shipped weights (what users get) and by
training from scratch (`--rebuild`: 5,000 steps, about 7 minutes on 2 CPU cores), and reusing it.

python bench/bench_demo_build.py
"""

from __future__ import annotations

import os
import tempfile
import time

import torch


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["STEER_EVAL_CACHE"] = cache
        from steer_eval.demo.cache import demo_model_dir

        start = time.perf_counter()
        demo_model_dir(progress=False)
        shipped = time.perf_counter() - start
        start = time.perf_counter()
        demo_model_dir(progress=False)
        reused = time.perf_counter() - start
        start = time.perf_counter()
        demo_model_dir(rebuild=True, progress=False)
        trained = time.perf_counter() - start
    print(
        f"demo model: from the shipped weights in {shipped:.1f} s, trained from scratch in {trained:.1f} s, "
        f"reused (validated from cache) in {reused:.2f} s; "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
