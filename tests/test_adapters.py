"""Adapters as models (issue 20): a LoRA adapter trained here on the demo world (fine-tuned towards the mood
task's desired reply) runs as `--model demo --model-args peft=PATH`, a model like any other: steering acts
on it, its cells are its own (another key than the base model's), and `steer-eval compare` puts it beside
its base, so fine-tuning and steering land in one table. An adapter of another base is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from lora import train_mood_lora

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT


def _run(vector: Path, output: Path, *extra: str) -> int:
    return main(["--model", "demo", "--vectors", str(vector), "--tasks", "demo_sentiment,demo_facts", "--alphas",
                 "1", "--limit", "80", "--device", "cpu", "--output", str(output), *extra])  # fmt: skip


@pytest.fixture(scope="module")
def adapter(demo_dir, tmp_path_factory) -> Path:
    return train_mood_lora(demo_dir, tmp_path_factory.mktemp("lora") / "mood-lora")


def test_an_adapter_is_a_model_beside_its_base(adapter, mood_vector, tmp_path: Path) -> None:
    vector = mood_vector
    assert _run(vector, tmp_path / "base") == 0
    assert _run(vector, tmp_path / "tuned", "--model-args", f"peft={adapter}") == 0
    base, tuned = (pd.read_csv(tmp_path / run / "effects.csv").set_index("task") for run in ("base", "tuned"))
    assert tuned.loc["demo_sentiment"].baseline > base.loc["demo_sentiment"].baseline + 0.3, "the fine-tuning took"
    assert tuned.loc["demo_facts"].steered < tuned.loc["demo_facts"].baseline - 0.2, "steering acts on the adapter"
    assert set(base.cell).isdisjoint(tuned.cell), "the adapter's cells are its own"
    manifest = json.loads((tmp_path / "tuned" / "manifest.json").read_text())
    assert manifest["model"]["model_args"] == {"peft": str(adapter)}
    assert main(["compare", str(tmp_path / "base"), str(tmp_path / "tuned"), "--output", str(tmp_path / "cmp")]) == 0
    versus = pd.DataFrame(json.loads((tmp_path / "cmp" / "comparison.json").read_text())["versus"])
    assert set(versus.test) == {"paired"} and len(versus) == 2


def test_an_adapter_of_another_model_is_one_line(adapter, mood_vector, tmp_path: Path, capsys) -> None:
    vector = mood_vector
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((adapter / "adapter_config.json").read_text())
    (other / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "meta-llama/X-8B"}))
    for args, words in (
        (f"peft={other}", "the adapter was trained on meta-llama/X-8B, but the run's model is demo"),
        (f"peft={tmp_path / 'missing'}", "no such adapter folder"),
        (f"peft={tmp_path}", "adapter_config.json is missing or not JSON"),
    ):
        assert _run(vector, tmp_path / "run", "--model-args", args, "--dry-run") == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err
