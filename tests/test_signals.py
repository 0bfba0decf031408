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


def test_a_kill_inside_a_long_group_loses_at_most_the_segment_in_flight(demo_dir, mood_vector, tmp_path: Path,
                                                                        capsys) -> None:  # fmt: skip
    """Preemption: progress inside a prefix group (one task x every strength, scored as one sweep) is kept in
    segments of requests. Killed (SIGKILL) once the group's checkpoint holds some segments, the resumed run
    scores only the segments it lacks and ends with exactly the uninterrupted run's cells."""
    import json

    from safetensors import safe_open

    args = ["--model", "demo", "--vectors", str(mood_vector), "--tasks", "demo_sentiment", "--alphas",
            "-2,-1,1,2,4", "--device", "cpu", "--batch-size", "4"]  # fmt: skip
    output = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "STEER_EVAL_CHECKPOINT_SECONDS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "steer_eval", *args, "--output", str(output)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    partial, done = output / "partial", 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and done < 3:
        time.sleep(0.2)
        files = list(partial.glob("*.safetensors")) if partial.is_dir() else []
        if files:
            try:
                with safe_open(str(files[0]), framework="pt") as handle:
                    done = int(handle.get_tensor("done").sum())
            except Exception:  # being replaced: read it again
                continue
    process.kill()
    process.communicate(timeout=60)
    assert done >= 3 and not list((output / "cells").glob("*.json")), "killed inside the group, before any cell"
    with safe_open(str(next(partial.glob("*.safetensors"))), framework="pt") as handle:
        kept, total = int(handle.get_tensor("done").sum()), handle.get_tensor("done").numel()
    assert kept < total
    # a kill during a checkpoint write leaves the write's temporary file (it happened on CI): the finished group
    # takes it away with its progress file
    progress = next(partial.glob("*.safetensors"))
    (partial / f".{progress.name}.torn.tmp").write_bytes(b"half a write")
    assert main([*args, "--output", str(output)]) == 0
    err = capsys.readouterr().err
    assert f"resumed its sweep from {kept} of {total} segments" in err, err[-2000:]
    assert not list(partial.glob("*")), "the group's progress file goes once its cells are written"
    fresh = tmp_path / "fresh"
    assert main([*args, "--output", str(fresh)]) == 0

    def records(folder: Path) -> dict[str, list]:
        return {p.name: json.loads(p.read_text())["records"] for p in (folder / "cells").glob("*.json")}

    assert records(output) == records(fresh), "the resumed run's cells equal the uninterrupted run's"
    assert (output / "effects.csv").read_text() == (fresh / "effects.csv").read_text()


def test_sigterm_inside_a_group_keeps_its_progress(demo_dir, mood_vector, tmp_path: Path, capsys) -> None:
    """A scheduler's SIGTERM inside a prefix group: the scoring done so far is written before the command
    stops (not only every 30 s, and not only when the sweep ends), and the resumed run starts from it."""
    from safetensors import safe_open

    args = ["--model", "demo", "--vectors", str(mood_vector), "--tasks", "demo_sentiment", "--alphas",
            "-8,-4,-2,-1,1,2,4,8", "--device", "cpu", "--batch-size", "1",
            "--output", str(tmp_path / "run")]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "STEER_EVAL_CHECKPOINT_SECONDS": "3600"}
    process = subprocess.Popen([sys.executable, "-m", "steer_eval", *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    import threading

    said: list[str] = []  # what the command writes to stderr, read as it comes: its sweep's bar among it
    reader = threading.Thread(target=lambda: said.extend(iter(lambda: process.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "Items x" not in "".join(said[-4000:]):
        time.sleep(0.1)  # the sweep's own bar: it is scoring
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(said)
    assert process.returncode == 143, err[-2000:]
    files = list((tmp_path / "run" / "partial").glob("*.safetensors"))
    assert len(files) == 1, "the sweep's progress was written as it stopped"
    with safe_open(str(files[0]), framework="pt") as handle:
        kept, total = int(handle.get_tensor("done").sum()), handle.get_tensor("done").numel()
    assert 0 < kept <= total  # mid-sweep on any machine we know (a whole sweep is kept too, as it ends)
    assert main(args) == 0
    assert f"resumed its sweep from {kept} of {total} segments" in capsys.readouterr().err
