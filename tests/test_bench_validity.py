"""bench/bench_validity.py at a tiny size (seconds), so the benchmark cannot rot: its truth is exact, a huge
planted effect is found, nulls are not called effects, letter priors are flagged, and the JSON holds the
promised figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from bench_validity import Design, TaskDesign, figures, main, solve_beta, solve_gamma, solve_mu, true_delta, validity

TINY = Design(
    tasks=(
        TaskDesign("want", "behavior", True, 2, 200, 0.4, placebo=True),
        TaskDesign("unwanted", "behavior", False, 2, 200, 0.6),
        TaskDesign("cap", "intelligence", True, 4, 200, 0.6),
        TaskDesign("ab", "behavior", True, 2, 200, 0.5, orders=2, target_on_a=0.8, letter_prior=0.2,
                   letter_sizes=(0.2,)),
    ),
    sizes=(0.3,),
    nulls=2,
    null_every=3,
)  # fmt: skip


def test_the_planted_truth_is_exact() -> None:
    for task in TINY.tasks:
        mu = solve_mu(task)
        for delta in (-0.1, 0.03, 0.2):
            assert true_delta(task, mu, 0, solve_beta(task, mu, delta), 0.0) == pytest.approx(delta, abs=1e-9)
    ab = TINY.tasks[-1]
    mu = solve_mu(ab)
    assert mu == pytest.approx(0.0, abs=1e-9)  # a 50% target rate: a letter prior's pooled effect is zero
    gamma = solve_gamma(ab, mu, 0.2)
    assert true_delta(ab, mu, 0, 0.0, gamma) == pytest.approx(0.2)
    assert true_delta(ab, mu, 0, 0.0, gamma) + true_delta(ab, mu, 1, 0.0, gamma) == pytest.approx(0.0, abs=1e-12)


def test_tiny_benchmark_finds_what_was_planted() -> None:
    summary = validity(3, seed=1, design=TINY)
    fig = figures(summary)
    assert summary["n_runs"] == 3 and summary["n_complete_null_runs"] == 1
    for key in ("sensitivity", "false_helps_rate", "false_hurts_rate", "coverage", "artifact_recall"):
        assert 0 <= fig[key] <= 1, key
    assert fig["sensitivity"] == 1.0  # 30-point effects on 200 items, helps and hurts, both directions
    assert fig["artifact_recall"] == 1.0  # a 20-point letter prior that the rotations undo
    assert fig["false_artifact_rate"] == 0.0
    nulls = summary["holm"]["false_helps_rate"]["n"]
    assert nulls == 2 * (2 * 4) + (4 * 4 + 1)  # 2 nulls a task in the 2 mixed runs; every cell in the null run
    assert fig["false_helps_rate"] * nulls <= 1 and fig["false_hurts_rate"] * nulls <= 1
    assert fig["coverage"] >= 0.8 and fig["fwer_holm"] <= 1 / 3 and 0 <= fig["fdr_bh"] <= 1


def test_command_writes_the_figures(tmp_path: Path, capsys) -> None:
    out = tmp_path / "validity.json"
    main(["--runs", "1", "--seed", "3", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "FWER under Holm" in printed and "FDR under BH" in printed and "coverage" in printed
    data = json.loads(out.read_text())
    for key in ("sensitivity", "false_helps_rate", "false_hurts_rate", "coverage", "artifact_recall"):
        assert isinstance(data[key], float) and 0 <= data[key] <= 1, key
    assert {"fwer_holm", "fdr_bh", "n_runs", "machine", "date", "settings"} <= set(data)
    assert data["n_runs"] == 1 and data["settings"]["seed"] == 3
    assert np.isfinite(data["sensitivity_by_size"]["20 points"])
