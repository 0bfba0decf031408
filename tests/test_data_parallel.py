"""Several processes (issue 20): real 2-process runs on CPU (`torchrun --nproc_per_node 2 -m steer_eval ...`
and `accelerate launch --multi_gpu --num_processes 2 -m steer_eval ...`, over gloo) split the items between
the processes as lm-eval does over GPUs, rank 0 gathers and writes, and the run folder says what a 1-process
run says: the same cells, items, answers, generated texts and verdicts (the log-likelihoods to float
rounding: the two processes batch the items differently)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steer_eval.cli import main


def _args(vectors: list[Path], output: Path) -> list[str]:
    return ["--model", "demo", "--vectors", *map(str, vectors), "--tasks", "demo_sentiment,demo_facts,demo_mood_gen",
            "--alphas", "1,2", "--limit", "24", "--controls", "random:1", "--positions", "generated",
            "--device", "cpu", "--output", str(output)]  # fmt: skip


def _cells(run: Path) -> dict[str, list[dict]]:
    return {p.stem: json.loads(p.read_text())["records"] for p in sorted((run / "cells").glob("*.json"))}


LAUNCHERS = {
    "torchrun": ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    # accelerate's `--cpu` starts one process (multi-CPU means mpirun to accelerate 1.x); its `--multi_gpu`
    # launcher (torchrun underneath) starts N processes, which find no GPU and join over gloo on the CPU
    "accelerate": ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no"],
}  # fmt: skip


@pytest.fixture(scope="module")
def one_process(demo_dir, tmp_path_factory) -> tuple[list[Path], Path]:
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector
    from steer_eval.vectors.format import save_vector

    root = tmp_path_factory.mktemp("parallel")
    vectors = [save_vector(planted_vector(b, DemoRecipe()), root / f"{b}.safetensors") for b in ("mood", "style")]
    assert main(_args(vectors, root / "one")) == 0
    return vectors, root / "one"


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_processes_say_what_one_says(one_process, tmp_path: Path, launcher: str) -> None:
    vectors, single = one_process
    command = [sys.executable, *LAUNCHERS[launcher], "-m", "steer_eval", *_args(vectors, tmp_path / "two")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "report:" in done.stdout and done.stdout.count("report:") == 1, "only rank 0 writes and reports"
    assert done.stderr.count("Loading weights:   0%") == 2, "two processes, each loading the model"

    one, two = _cells(single), _cells(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) == 27  # 3 tasks x (baseline + (2 vectors + 2 placebos) x 2)
    for key in one:
        assert [r["item_id"] for r in one[key]] == [r["item_id"] for r in two[key]], "every item, in order"
        for a, b in zip(one[key], two[key], strict=True):
            assert a.get("chosen") == b.get("chosen") and a.get("text") == b.get("text")
            if a.get("propensity") is not None:
                assert abs(a["propensity"] - b["propensity"]) < 1e-4
    effects_one, effects_two = (pd.read_csv(run / "effects.csv") for run in (single, tmp_path / "two"))
    exact = ["task", "vector", "alpha", "n", "baseline", "steered", "delta", "ci_low", "ci_high", "p_value", "verdict"]
    pd.testing.assert_frame_equal(effects_one[exact], effects_two[exact])
    close = effects_one.select_dtypes("number").columns
    assert np.allclose(effects_one[close], effects_two[close], rtol=1e-4, atol=1e-6, equal_nan=True)
