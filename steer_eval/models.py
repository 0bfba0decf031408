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
    """A hub id or folder as given; a demo model's name (`demo`, `demo-qwen`: demo/model.py DEMO_MODELS) becomes
    its cached folder (built if missing)."""
    if not name.startswith(DEMO):
        return name
    from steer_eval.demo.cache import demo_model_dir
    from steer_eval.demo.model import DEMO_MODELS

    if name not in DEMO_MODELS:
        return name  # a folder that happens to start with "demo"
    return str(demo_model_dir(DEMO_MODELS[name], progress=progress))


def same_model(recorded: str, loaded: str) -> bool:
    """Whether a vector's recorded model name plausibly names the loaded model (hub id vs local copy)."""
    from pathlib import Path

    if recorded == loaded or Path(recorded).name == Path(loaded).name:
        return True
    # a demo model's cached folder is NAME-FINGERPRINT (demo-111fd5a9a9c4bcf1, demo-qwen-...)
    return recorded.startswith(DEMO) and Path(loaded).name.rpartition("-")[0] == recorded


def placement(model_args: dict | None) -> dict:
    """from_pretrained's arguments for lm-eval's model args, so a vector is built on a model loaded the way a
    run loads it: `parallelize=True` (with `device_map_option`, `max_memory_per_gpu`, `max_cpu_memory`,
    `offload_folder`) places the layers with accelerate's device map; any other key (`device_map`,
    `trust_remote_code`, `attn_implementation`, a quantisation flag) goes to from_pretrained as given."""
    import torch

    args = dict(model_args or {})
    if str(args.pop("parallelize", False)).lower() == "true":
        args.setdefault("device_map", args.pop("device_map_option", "auto"))
        memory = {}
        if "max_memory_per_gpu" in args:
            per_gpu = args.pop("max_memory_per_gpu")
            memory.update({index: per_gpu for index in range(torch.cuda.device_count())})
        if "max_cpu_memory" in args:
            memory["cpu"] = args.pop("max_cpu_memory")
        if memory:
            args["max_memory"] = memory
    args.pop("device_map_option", None)
    return args


def load_model(
    name: str,
    revision: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    progress: bool = True,
    model_args: dict | None = None,
) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_path(name, progress)
    target = pick_device(device)
    placed = placement(model_args)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(path, revision=revision, dtype=pick_dtype(dtype, target), **placed)
    except (OSError, ValueError, TypeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SteerEvalError(
            f"cannot load model {name!r}: {first_line}; give a Hugging Face hub id or a local model folder"
        ) from None
    if "device_map" not in placed:  # a device map placed the layers already
        model.to(target)
    model.eval()
    return LoadedModel(model, tokenizer, name, revision, path)


def input_device(model):
    """Where a model's inputs go: its input embedding's device (under a device map, the map's entry for it;
    a layer offloaded to disk computes on the CPU), else its first parameter's."""
    import torch

    embedding = model.get_input_embeddings()
    device_map = getattr(model, "hf_device_map", None)
    if device_map:
        names = {module: name for name, module in model.named_modules()}
        name = names.get(embedding, "")
        for prefix, placed in sorted(device_map.items(), key=lambda item: -len(item[0])):
            if name == prefix or name.startswith(prefix + ".") or prefix == "":
                return torch.device("cpu" if placed in ("cpu", "disk") else placed)
    weight = getattr(embedding, "weight", None)
    if weight is not None and weight.device.type != "meta":
        return weight.device
    return next(model.parameters()).device
