"""HellaSwag (Zellers et al. 2019, github.com/rowanz/hellaswag, MIT), the validation set in the text form
llama.cpp reads (`hellaswag/hellaswag_val_full.txt.bz2`, via github.com/klosax/hellaswag_text_data @
1105d370): 6 lines per item, context, gold index, four endings. Scored by completion (each ending after the
context), as lm-eval does. Only validation ships, so it is split 60/20/20 by a hash of the context."""

from __future__ import annotations

import bz2
from pathlib import Path

from steer_eval.tasks import hub
from steer_eval.tasks.items import MCItem, hash_split
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "github.com/rowanz/hellaswag (validation text via github.com/klosax/hellaswag_text_data @ 1105d370)"


def _load(folder: Path) -> dict[str, list[MCItem]]:
    with bz2.open(folder / "hellaswag" / "hellaswag_val_full.txt.bz2", "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    if len(lines) % 6:
        raise ValueError(f"{len(lines)} lines is not a multiple of 6 (context, label, 4 endings)")
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for i in range(0, len(lines), 6):
        context, label, endings = lines[i].strip(), int(lines[i + 1]), tuple(e.strip() for e in lines[i + 2 : i + 6])
        item = MCItem(f"hellaswag-{i // 6}", context, endings, label, "continuation")
        splits[hash_split(f"{i // 6}-{context}", "hellaswag")].append(item)
    return splits


register(
    TaskSpec(
        name="hellaswag",
        kind="intelligence",
        family="commonsense",
        desired="target: the correct ending",
        source=SOURCE,
        licence="MIT",
        loader=_load,
        data_files=("hellaswag/hellaswag_val_full.txt.bz2",),
        hub=hub.hellaswag(),
    )
)
