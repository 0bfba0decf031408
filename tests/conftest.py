"""Shared fixtures: tiny models built from configs (never downloaded) and an offline environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny Llama (3 layers, hidden 32) with a word-level tokenizer."""
    from tiny import save_tiny

    return save_tiny(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data folder {SHARED_DATA} is absent (it sits beside the repository)")
    return SHARED_DATA


REAL_TASKS = ("caa_sycophancy", "bbq_age", "truthfulqa_mc1")


@pytest.fixture(scope="session")
def real_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama whose BPE tokenizer was trained on the real benchmark texts it will read."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data folder {SHARED_DATA} is absent (it sits beside the repository)")
    from tiny import save_tiny_bpe

    from steer_eval.tasks import load_split

    texts = [
        item.prompt + "".join(item.continuations) + " ".join(item.option_texts)
        for task in REAL_TASKS
        for item in load_split(task, "train", SHARED_DATA)[:300]
    ]
    return save_tiny_bpe(tmp_path_factory.mktemp("tiny-bpe"), texts)


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The embedded demo model (built into the cache on first use, ~90 s on 2 cores)."""
    from steer_eval.demo.cache import demo_model_dir

    return demo_model_dir(progress=False)


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`steer-eval demo` run once for the session (under 2 minutes on 2 CPU cores): its output folder and
    what it printed. tests/test_demo_run.py checks it against the demo world's known truth."""
    import contextlib
    import io

    from steer_eval.cli import main

    output = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--output", str(output)]) == 0
    return output, printed.getvalue()


@pytest.fixture(scope="session")
def classifier_dir(demo_dir, tmp_path_factory) -> str:
    """A tiny sequence classifier built from a config (random weights) on the demo tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(demo_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("classifier")
    LlamaForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def mood_vector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo world's planted mood push as a vector file (built for the demo model: its truth is known)."""
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector
    from steer_eval.vectors.format import save_vector

    return save_vector(planted_vector("mood", DemoRecipe()), tmp_path_factory.mktemp("mood") / "mood.safetensors")
