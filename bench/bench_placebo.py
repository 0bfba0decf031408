"""One placebo draw against five (issue 19): how often a vector that is no better than a random direction is
judged `helps`, when each vector is compared with one same-norm random control or with the distribution of
five, measured on simulated runs written through the real run store and read by `analyze`, side by side on
the same simulated cells.

A random direction has an effect of its own in a real model (it moves answers, by a few points either way),
so "beyond the placebo" must mean beyond what random directions do, not beyond one of them. The generative
model is bench_validity's (items with latent margins, answers where the margin is positive), with every
direction, vector or placebo, shifting the margins by its own beta ~ N(0, RANDOM_SD) (items differing in
how far they move, as there). The vectors under test are themselves random directions (their true effect is
no more than a placebo's: every `helps` is false); beside them, vectors with a genuine +10-point push on top
of their random part measure what the stricter comparison costs in power.

    python bench/bench_placebo.py [--runs N] [--seed S] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validity import (
    HETEROGENEITY,
    SD_ITEM,
    TaskDesign,
    _records,
    _vector,
    _Writer,
    solve_beta,
    solve_mu,
)

from steer_eval.analysis import Settings, analyze
from steer_eval.run.grid import Cell, TaskRef

TASK = TaskDesign("want", "behavior", True, 2, 300, 0.35)
RANDOM_SD = 0.2  # margin shift of a random direction (about 4-5 points of target rate, either way)
DRAWS = 5
NULL_VECTORS, GENUINE_VECTORS, GENUINE_SIZE = 8, 4, 0.10


def simulate(rng: np.random.Generator, roots: dict[int, Path]) -> list[tuple[str, bool]]:
    """Write the same simulated cells into one run folder per placebo count (1 draw: the first of the five);
    return each vector's label and whether its effect is genuine."""
    writers = {draws: _Writer(root) for draws, root in roots.items()}
    mu = solve_mu(TASK)
    genuine_beta = solve_beta(TASK, mu, GENUINE_SIZE)
    ref = TaskRef(TASK.name, None, TASK.kind, "simulated", "multiple_choice", TASK.desired, None, TASK.options)
    n = TASK.items
    latent = rng.normal(mu, SD_ITEM, n)
    pos = rng.integers(0, TASK.options, n)

    def records(beta: float) -> list[dict]:
        shift = beta + HETEROGENEITY * abs(beta) * rng.normal(0.0, 1.0, n)
        return _records(TASK, latent + shift + rng.normal(0, TASK.cell_sd, n), pos, 0)

    base = records(0.0)
    for writer in writers.values():
        writer.add(Cell(ref, 0, 0), base)
    vectors = [(f"null{j}", False) for j in range(NULL_VECTORS)] + [
        (f"genuine{j}", True) for j in range(GENUINE_VECTORS)
    ]
    for label, genuine in vectors:
        own = records(rng.normal(0.0, RANDOM_SD) + (genuine_beta if genuine else 0.0))
        placebos = [records(rng.normal(0.0, RANDOM_SD)) for _ in range(DRAWS)]
        for draws, writer in writers.items():
            writer.add(Cell(ref, 0, 0, _vector(label), 4.0, 10, None), own)
            for k in range(draws):
                control = _vector(f"random({label}, seed {k})", control_of=label)
                writer.add(Cell(ref, 0, 0, control, 4.0, 10, None), placebos[k])
    for writer in writers.values():
        writer.finish()
    return vectors


def measure(runs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts = {draws: {"false_helps": 0, "nulls": 0, "true_helps": 0, "genuine": 0} for draws in (1, DRAWS)}
    gc.freeze()  # statsmodels' Holm calls gc.collect() often (bench_validity says why)
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            roots = {draws: Path(tmp) / f"draws{draws}" for draws in (1, DRAWS)}
            vectors = simulate(rng, roots)
            for draws, root in roots.items():
                effects = analyze(root, Settings()).effects
                verdicts = dict(zip(effects["vector"], effects["verdict"], strict=True))
                for label, genuine in vectors:
                    key = "genuine" if genuine else "nulls"
                    counts[draws][key] += 1
                    if verdicts[label] == "helps":
                        counts[draws]["true_helps" if genuine else "false_helps"] += 1
    out = {}
    for draws, c in counts.items():
        p = c["false_helps"] / c["nulls"]
        power = c["true_helps"] / c["genuine"]
        out[f"draws_{draws}"] = {
            "false_helps_rate": p,
            "false_helps_se": math.sqrt(p * (1 - p) / c["nulls"]),
            "null_vector_cells": c["nulls"],
            "power_at_10_points": power,
            "power_se": math.sqrt(power * (1 - power) / c["genuine"]),
            "genuine_vector_cells": c["genuine"],
        }
    one, five = out["draws_1"]["false_helps_rate"], out[f"draws_{DRAWS}"]["false_helps_rate"]
    out["false_helps_ratio_5_vs_1"] = five / one if one else math.nan
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100, help="simulated runs (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = measure(args.runs, args.seed)
    for draws in (1, DRAWS):
        r = result[f"draws_{draws}"]
        print(
            f"{draws} placebo draw(s): vectors no better than a random direction judged `helps` in "
            f"{100 * r['false_helps_rate']:.1f}% (± {100 * r['false_helps_se']:.1f}) of {r['null_vector_cells']} "
            "cells; "
            f"a genuine +10-point vector in {100 * r['power_at_10_points']:.0f}% (± {100 * r['power_se']:.0f})"
        )
    print(f"false helps, 5 draws against 1: ratio {result['false_helps_ratio_5_vs_1']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
