"""The plain `lm_eval` command line knows `--model steer-eval` (registered by the installed .pth hook) and
steers exactly as the in-process model does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
from steer_eval.vocab import PositionMode, Site

DOCS = [
    {"question": "is the cat happy ?", "choices": ["yes", "no"], "label": 0},
    {"question": "is the dog very sad ?", "choices": ["yes", "no", "maybe"], "label": 1},
    {"question": "one two three", "choices": ["four five", "six"], "label": 0},
]
TASK = """\
task: steer_eval_cli_probe
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}} answer :"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
"""


def test_lm_eval_cli_runs_our_steered_model(tiny_dir: Path, tmp_path: Path) -> None:
    lm_eval = shutil.which("lm_eval", path=str(Path(sys.executable).parent)) or shutil.which("lm_eval")
    if lm_eval is None:
        pytest.skip("the lm_eval console script is not installed in this environment")
    data = tmp_path / "docs.jsonl"
    data.write_text("\n".join(json.dumps(d) for d in DOCS))
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "probe.yaml").write_text(TASK.format(data=data))
    vector = save_vector(
        SteeringVector(
            {SiteKey(Site.RESID, 1): torch.randn(32, generator=torch.Generator().manual_seed(0)) * 3},
            VectorMeta(positions=PositionMode.LAST_PROMPT, default_alpha=2.0),
        ),
        tmp_path / "v.safetensors",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf")}
    command = [
        lm_eval,
        "--model",
        "steer-eval",
        "--model_args",
        f"pretrained={tiny_dir},vectors={vector}",
        "--tasks",
        "steer_eval_cli_probe",
        "--include_path",
        str(tmp_path / "tasks"),
        "--device",
        "cpu",
        "--batch_size",
        "2",
        "--log_samples",
        "--output_path",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    samples = [
        json.loads(line) for f in (tmp_path / "out").rglob("samples_*.jsonl") for line in f.read_text().splitlines()
    ]
    assert len(samples) == len(DOCS)

    requests, logged = [], []
    for sample in samples:
        for key, args in sample["arguments"].items():
            requests.append(Instance("loglikelihood", {}, (args["arg_0"], args["arg_1"]), 0))
            logged.append(float(sample["resps"][int(key.split("_")[-1])][0][0]))
    ours = SteerEvalLM(pretrained=str(tiny_dir), device="cpu", batch_size=2, vectors=str(vector))
    steered = [ll for ll, _ in ours.loglikelihood(requests, disable_tqdm=True)]
    ours.set_interventions([])
    plain = [ll for ll, _ in ours.loglikelihood(requests, disable_tqdm=True)]
    assert torch.allclose(torch.tensor(logged), torch.tensor(steered), atol=1e-5)
    assert not torch.allclose(torch.tensor(logged), torch.tensor(plain), atol=1e-3)


def test_installing_us_keeps_lm_evals_own_models() -> None:
    """lm-eval fills its model registry only when it finds it empty; our start-up hook must not make it
    look full (that once hid `--model hf` and `--model steered` from the plain lm_eval command)."""
    probe = (
        "from lm_eval.api.registry import get_model\n"
        "print(get_model('hf').__name__, get_model('steered').__name__, get_model('steer-eval').__name__)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["HFLM", "SteeredModel", "SteerEvalLM"]
