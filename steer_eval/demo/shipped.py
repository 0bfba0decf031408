"""The demo model's weights as shipped inside the package, for the default recipe.

Training the demo model is deterministic on one machine but chaotic across machines: another CPU's kernels
round differently, and after 2,400 steps the weaker planted behaviour (flattery) can come out weaker than
the ground truth in docs/demo.md needs. So the default recipe's trained weights, checked against that ground
truth, ship with the package (about 1.1 MB); tokenizer and configuration are rebuilt from the recipe. Any
other recipe, and `steer-eval demo --rebuild`, trains from scratch."""

from __future__ import annotations

import json
from pathlib import Path

from steer_eval.demo.model import DemoRecipe, build_tokenizer, demo_config, demo_name

SHIPPED_DIR = Path(__file__).parent / "weights"


def shipped_weights(recipe: DemoRecipe) -> Path | None:
    """The shipped weights file for `recipe`, or None when none ships (then the model is trained)."""
    path = SHIPPED_DIR / f"{demo_name(recipe)}-{recipe.fingerprint()}.safetensors"
    return path if path.is_file() else None


def load_shipped_model(recipe: DemoRecipe, weights: Path):
    """The shipped model and its tokenizer, exactly as training `recipe` produced them where they were made."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    tokenizer = build_tokenizer(recipe.world)
    model = AutoModelForCausalLM.from_config(demo_config(recipe, tokenizer))
    model.load_state_dict(load_file(weights), strict=True)
    model.eval()
    return model, tokenizer


def shipped_provenance(weights: Path) -> dict:
    """Where and how the shipped weights were trained (stored in the file's metadata)."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        meta = handle.metadata() or {}
    return json.loads(meta.get("steer_eval_demo", "{}"))


def write_shipped(model, recipe: DemoRecipe, seconds: float) -> Path:
    """Save `model` (trained from `recipe`) as the package's shipped weights, with where and how it was
    trained in the file's metadata. Maintainers run `python -m steer_eval.demo.shipped` after changing the
    world or the recipe (the old file no longer matches the fingerprint and is removed)."""
    import platform

    import torch
    import transformers
    from safetensors.torch import save_file

    SHIPPED_DIR.mkdir(exist_ok=True)
    name = demo_name(recipe)
    for old in SHIPPED_DIR.glob(f"{name}-*.safetensors"):
        if old.stem.rpartition("-")[0] == name:  # this model's older weights (not another demo model's)
            old.unlink()
    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "")
    provenance = {
        "fingerprint": recipe.fingerprint(),
        "machine": f"{platform.machine()} {cpu}".strip(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "training_seconds": round(seconds, 1),
    }
    path = SHIPPED_DIR / f"{name}-{recipe.fingerprint()}.safetensors"
    tensors = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"steer_eval_demo": json.dumps(provenance)})
    return path


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


if __name__ == "__main__":
    import sys
    import time

    from steer_eval.demo.model import DEMO_MODELS
    from steer_eval.demo.training import train_demo_model

    recipe = DEMO_MODELS[sys.argv[1] if len(sys.argv) > 1 else "demo"]
    started = time.perf_counter()
    trained, _ = train_demo_model(recipe)
    print(write_shipped(trained, recipe, time.perf_counter() - started))
