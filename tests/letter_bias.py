"""A task whose correct answer is always option A in its original order, and a vector that only raises the
answer letter A: the letter-prior artifact METHODS.md describes, built on the tiny real-vocabulary model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from steer_eval.tasks import registry
from steer_eval.tasks.items import MCItem
from steer_eval.tasks.lmeval_adapter import UTILS, render_yaml
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
from steer_eval.vocab import PositionMode, Site

TASK = "test_letter_prior"


def _items(_folder) -> dict[str, list[MCItem]]:
    def make(i: int) -> MCItem:
        return MCItem(f"q{i}", f"Question {i}: which one?", ("red", "green", "blue", "small"), 0)

    return {
        "train": [make(i) for i in range(4)],
        "validation": [make(i) for i in range(4)],
        "test": [make(i) for i in range(60)],
    }


@contextmanager
def letter_prior_task(folder: Path) -> Iterator[Path]:
    """Register the task and write its lm-eval YAML; yields the include path."""
    spec = registry.TaskSpec(TASK, "behavior", "test", "target: the first option; wanted", "a test", "none", _items)
    registry.register(spec)
    include = folder / "tasks"
    include.mkdir(parents=True, exist_ok=True)
    (include / f"se_{TASK}.yaml").write_text(render_yaml(spec))
    (include / "utils.py").write_text(UTILS)
    try:
        yield include
    finally:
        registry._REGISTRY.pop(TASK, None)


def letter_a_vector(model_dir: Path, path: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = [tokenizer(f" {letter}", add_special_tokens=False)["input_ids"][-1] for letter in "ABCD"]
    unembed = model.get_output_embeddings().weight.detach()
    direction = unembed[ids[0]] - unembed[ids[1:]].mean(dim=0)
    last = model.config.num_hidden_layers - 1
    meta = VectorMeta(method="letter-bias", positions=PositionMode.LAST_PROMPT)
    return save_vector(SteeringVector({SiteKey(Site.RESID, last): direction}, meta), path)
