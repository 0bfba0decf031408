"""Stopping cleanly (issue 22): SIGTERM, what a cluster scheduler sends before it kills a job, stops a run like
Ctrl-C: exit 143, one line (no traceback) saying how many cells the folder keeps and how to resume, no stray
temporary file; running the same command again computes only the cells not kept (that a resumed run equals
an uninterrupted one is tested after kill -9 in test_runner.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from steer_eval.cli import main


def _args(vector: Path, output: Path) -> list[str]:
    return ["--model", "demo", "--vectors", str(vector), "--tasks", "demo_sentiment,demo_sycophancy,demo_facts",
            "--alphas", "-1,1,2", "--controls", "random:1", "--limit", "40", "--device", "cpu", "--batch-size", "4",
            "--no-prefix-reuse", "--output", str(output)]  # fmt: skip


def test_sigterm_stops_cleanly_and_the_run_resumes(demo_dir, mood_vector, tmp_path: Path, capsys) -> None:
    vector = mood_vector
    output = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "steer_eval", *_args(vector, output)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    cells = output / "cells"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(cells.glob("*.json")) if cells.is_dir() else []) < 3:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err[-2000:]
    # the one line the command says (progress bars torn down at exit may still draw after it)
    said = [line.strip() for line in err.splitlines() if line.strip().startswith("steer-eval:")]
    assert len(said) == 1, err[-2000:]
    last = said[0]
    kept = len(list(cells.glob("*.json")))
    assert (
        last == f"steer-eval: interrupted (SIGTERM): {kept} cell(s) kept in {output}, rerun the same command to resume"
    )
    assert "Traceback" not in err and not list(output.rglob("*.tmp")), "no traceback, no half-written file"
    assert main(_args(vector, output)) == 0
    printed = capsys.readouterr().out
    assert f"{21 - kept} computed here, {kept} already there" in printed  # 3 tasks x (1 + 2 vectors x 3 strengths)
    assert len(pd.read_csv(output / "effects.csv")) == 18
