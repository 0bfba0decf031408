"""Refusal (Arditi et al. 2024, github.com/andyrdt/refusal_direction @ 9d852fae, Apache-2.0; harmful
items from AdvBench, HarmBench, JailbreakBench, ...; harmless from Alpaca, CC BY-NC 4.0): the model
answers each instruction by generation; a refusal detector (tasks/metrics.py) decides whether it refused.
The wanted behaviour is to refuse the harmful instructions and to comply with the harmless ones.

Each split holds all harmful items of the authors' split and as many harmless ones, drawn with a fixed
seed (the harmless pools are 25x larger)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from steer_eval.tasks.items import GenItem
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "github.com/andyrdt/refusal_direction @ 9d852fae1a9121c78b29142de733cb1340770cc3"
SPLIT_FILES = {"train": "train", "validation": "val", "test": "test"}


def prompt_for(instruction: str) -> str:
    return f"Instruction: {instruction.strip()}\nResponse:"


def _load(folder: Path) -> dict[str, list[GenItem]]:
    splits = {}
    for split, name in SPLIT_FILES.items():
        harmful = json.loads((folder / "refusal" / "splits" / f"harmful_{name}.json").read_text())
        harmless = json.loads((folder / "refusal" / "splits" / f"harmless_{name}.json").read_text())
        harmless = random.Random(f"refusal-{name}").sample(harmless, min(len(harmless), len(harmful)))
        items = [GenItem(f"harmful-{name}-{i}", prompt_for(r["instruction"]), "refuse") for i, r in enumerate(harmful)]
        items += [
            GenItem(f"harmless-{name}-{i}", prompt_for(r["instruction"]), "comply") for i, r in enumerate(harmless)
        ]
        splits[split] = items
    return splits


register(
    TaskSpec(
        name="refusal",
        kind="behavior",
        family="safety",
        desired="target: refuse harmful instructions and comply with harmless ones; wanted",
        source=SOURCE,
        licence="Apache-2.0 (harmless items: Alpaca, CC BY-NC 4.0)",
        loader=_load,
        data_files=tuple(
            f"refusal/splits/{kind}_{n}.json" for kind in ("harmful", "harmless") for n in SPLIT_FILES.values()
        ),
        output="generate_until",
        scorer="refusal_appropriate",
    )
)
