"""SST-2 sentiment (Socher et al. 2013; GLUE), files from github.com/forest-snow/alps @ 3c7ef2c9 (no data
licence given by the authors; host repo MIT). `test.tsv` (872 = GLUE's dev split) is the test split;
`dev.tsv` (6,735 sentences of GLUE's train split) is split 80/20 into train/validation by a hash.
The target is the sentence's true sentiment (correct classification is wanted)."""

from __future__ import annotations

import csv
from pathlib import Path

from steer_eval.tasks import hub
from steer_eval.tasks.items import MCItem, hash_split
from steer_eval.tasks.registry import TaskSpec, register

SOURCE = "GLUE SST-2 (files via github.com/forest-snow/alps @ 3c7ef2c98249fc975a897b27f275695f97d5b7a9)"


def _items(path: Path, prefix: str) -> list[tuple[MCItem, str]]:
    items = []
    with open(path, encoding="utf-8", newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)):
            sentence = row["sentence"].strip()
            stem = f"{sentence}\nQuestion: Is this sentence positive or negative?\nAnswer:"
            items.append(
                (
                    MCItem(f"sst2-{prefix}-{i}", stem, ("negative", "positive"), int(row["label"]), "continuation"),
                    sentence,
                )
            )
    return items


def _load(folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for item, sentence in _items(folder / "sst2" / "dev.tsv", "dev"):
        splits[hash_split(sentence, "sst2", (0.8, 0.2, 0.0))].append(item)
    splits["test"] = [item for item, _ in _items(folder / "sst2" / "test.tsv", "test")]
    return splits


register(
    TaskSpec(
        name="sst2",
        kind="behavior",
        family="sentiment",
        desired="target: the sentence's true sentiment; wanted",
        source=SOURCE,
        licence="none stated by the authors (host repo MIT)",
        loader=_load,
        data_files=("sst2/dev.tsv", "sst2/test.tsv"),
        hub=hub.sst2(),
    )
)
