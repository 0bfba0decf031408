"""Loading a Hugging Face causal LM and its tokenizer for steer-eval's own forward passes (building
vectors, selecting them). `demo` names the embedded demo model (built on first use, no network)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from steer_eval.errors import SteerEvalError

DEMO = "demo"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class LoadedModel:
    model: nn.Module
    tokenizer: object
    name: str
    revision: str | None
    path: str


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise SteerEvalError(f"unknown device {device!r} ({exc}); use auto, cpu, cuda or cuda:N") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise SteerEvalError(f"device {device} was requested but no CUDA GPU is available; use --device cpu")
    return chosen


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    if dtype not in DTYPES:
        raise SteerEvalError(f"unknown dtype {dtype!r}; use auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


def model_path(name: str, progress: bool = True) -> str:
    """A hub id or folder as given; `demo` becomes the cached demo model's folder (built if missing)."""
    if name != DEMO:
        return name
    from steer_eval.demo.cache import demo_model_dir

    return str(demo_model_dir(progress=progress))


def same_model(recorded: str, loaded: str) -> bool:
    """Whether a vector's recorded model name plausibly names the loaded model (hub id vs local copy)."""
    from pathlib import Path

    if recorded == loaded or Path(recorded).name == Path(loaded).name:
        return True
    return recorded == DEMO and Path(loaded).name.startswith(f"{DEMO}-")


def load_model(
    name: str, revision: str | None = None, device: str = "auto", dtype: str = "auto", progress: bool = True
) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_path(name, progress)
    target = pick_device(device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(path, revision=revision, dtype=pick_dtype(dtype, target))
    except (OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SteerEvalError(
            f"cannot load model {name!r}: {first_line}; give a Hugging Face hub id or a local model folder"
        ) from None
    model.to(target).eval()
    return LoadedModel(model, tokenizer, name, revision, path)
