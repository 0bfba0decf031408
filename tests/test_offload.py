"""A model split over devices (issue 20), on CPU: `--model-args parallelize=True,max_cpu_memory=...,offload_folder=...`
lets accelerate place the demo model's layers in memory and on disk (the way a 70B model is split over GPUs
and the CPU). The sweep's prefix reuse still holds there (the replay is checked against the full pass and
used, not skipped), and the run says what the same run in memory says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from steer_eval.run.config import RunConfig, parse_model_args
from steer_eval.run.execute import load_lm
from steer_eval.run.main import run
from steer_eval.run.prepare import prepare

OFFLOAD = {"parallelize": True, "max_cpu_memory": "1500KB"}  # the demo model is about 2.8 MB: part goes to disk


def test_prefix_reuse_holds_on_a_model_offloaded_to_disk(demo_dir, mood_vector, tmp_path: Path) -> None:
    vector = mood_vector

    def config(output: str, **model_args) -> RunConfig:
        return RunConfig(model="demo", vectors=[vector], tasks=["demo_sentiment", "demo_facts"], alphas=[1.0, 2.0],
                         limit=40, device="cpu", output=tmp_path / output, model_args=model_args)  # fmt: skip

    split = config("split", **OFFLOAD, offload_folder=str(tmp_path / "offload"))
    lm = load_lm(prepare(split, progress=False))
    on_disk = [name for name, p in lm.model.named_parameters() if p.device.type == "meta"]
    assert on_disk and any(".layers." in name for name in on_disk), "some blocks live on disk"
    run(split, progress=False, lm=lm)
    assert lm.prefix.supported and lm._prefix_checked, "the replay was checked against the full pass and used"
    run(config("memory"), progress=False)
    split_effects, memory = (pd.read_csv(tmp_path / name / "effects.csv") for name in ("split", "memory"))
    exact = ["task", "alpha", "baseline", "steered", "delta", "p_value", "verdict"]
    pd.testing.assert_frame_equal(split_effects[exact], memory[exact])
    assert np.allclose(split_effects.propensity_delta, memory.propensity_delta, atol=1e-5)


def test_a_vector_built_on_a_model_offloaded_to_disk_is_the_same_vector(demo_dir, tmp_path: Path) -> None:
    """`vectors build --model-args` loads the model as a run does: split over memory and disk here, the build
    and its validation selection give the vector the in-memory build gives."""
    from steer_eval.cli import main
    from steer_eval.models import load_model
    from steer_eval.vectors.format import load_vector

    offload = f"parallelize=True,max_cpu_memory=1500KB,offload_folder={tmp_path / 'offload'}"
    loaded = load_model("demo", device="cpu", progress=False, model_args=parse_model_args(offload))
    assert "disk" in set(loaded.model.hf_device_map.values())
    del loaded
    common = ["vectors", "build", "--method", "pasf", "--model", "demo", "--task", "demo_sentiment", "--layers",
              "1-2", "--select-on", "validation", "--strengths", "0.5,1", "--device", "cpu"]  # fmt: skip
    assert main([*common, "-o", str(tmp_path / "memory.safetensors")]) == 0
    assert main([*common, "--model-args", offload, "-o", str(tmp_path / "split.safetensors")]) == 0
    memory, split = (load_vector(tmp_path / f"{name}.safetensors") for name in ("memory", "split"))
    assert memory.directions.keys() == split.directions.keys()
    for key, tensor in memory.directions.items():
        assert np.allclose(tensor.numpy(), split.directions[key].numpy(), atol=1e-5)
    assert memory.meta.extra["selection"]["chosen"] == split.meta.extra["selection"]["chosen"]
