"""Adapters as models (issue 20): a PEFT adapter on a base model is given the way lm-eval spells it,
`--model-args peft=PATH`, and is then a model like any other (its cells' keys carry the adapter, through
the run's model args). Checked before any compute: the adapter folder exists, holds an adapter config, and
was trained on the model the run names (its `base_model_name_or_path`); a hub id is left to the loader."""

from __future__ import annotations

import json
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.models import same_model


def check_adapter(model_args: dict, model: str, model_path: str) -> None:
    adapter = model_args.get("peft")
    if adapter is None:
        return
    path = Path(str(adapter)).expanduser()
    if not path.exists():
        if str(adapter).startswith((".", "/", "~")) or path.suffix:
            raise SteerEvalError(f"--model-args peft={adapter}: no such adapter folder")
        return  # a hub id: the loader fetches and checks it
    config = path / "adapter_config.json"
    try:
        base = json.loads(config.read_text()).get("base_model_name_or_path")
    except (OSError, json.JSONDecodeError) as exc:
        raise SteerEvalError(
            f"--model-args peft={adapter}: {config} is missing or not JSON ({type(exc).__name__}); give the folder "
            "a PEFT adapter was saved to (save_pretrained)"
        ) from None
    if base and not (same_model(base, model) or same_model(base, model_path)):
        raise SteerEvalError(
            f"--model-args peft={adapter}: the adapter was trained on {base}, but the run's model is {model}; "
            "name its base model with --model"
        )
