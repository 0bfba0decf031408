"""Time a from-scratch build of the demo model (the issue's budget: at most 2 minutes on 2 CPU cores).

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
        built = time.perf_counter() - start
        start = time.perf_counter()
        demo_model_dir(progress=False)
        reused = time.perf_counter() - start
    print(
        f"demo model: built in {built:.1f} s, reused (validated from cache) in {reused:.2f} s; "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
