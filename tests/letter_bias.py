"""A task whose correct answer always sits at one letter in its original order, and a vector that only
raises that answer letter: the letter-prior artifact METHODS.md describes, built on the tiny real-vocabulary
model. The letter is the one the unsteered model likes least, so the vector's "gain" at the original order
is large whatever the random model's own letter prior happens to be."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from steer_eval.tasks import registry
from steer_eval.tasks.items import MCItem
from steer_eval.tasks.lmeval_adapter import UTILS, render_yaml
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
from steer_eval.vocab import PositionMode, Site

TASK = "test_letter_prior"
LETTERS = "ABCD"


def _item(i: int, target: int) -> MCItem:
    options = ["green", "blue", "small"]
    options.insert(target, "red")
    return MCItem(f"q{i}", f"Question {i}: which one?", tuple(options), target)


def _items(target: int, _folder) -> dict[str, list[MCItem]]:
    # distinct questions per split: the registry drops train/validation copies of test questions
    return {
        "train": [_item(100 + i, target) for i in range(4)],
        "validation": [_item(200 + i, target) for i in range(4)],
        "test": [_item(i, target) for i in range(60)],
    }


@functools.lru_cache(maxsize=4)
def _model(model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = [tokenizer(f" {letter}", add_special_tokens=False)["input_ids"][-1] for letter in LETTERS]
    return model, tokenizer, ids


@functools.lru_cache(maxsize=4)
def unliked_letter(model_dir: Path) -> int:
    """The answer letter the unsteered model gives the lowest mean log-probability on the task's prompts."""
    import torch

    model, tokenizer, ids = _model(model_dir)
    scores = torch.zeros(len(LETTERS))
    with torch.no_grad():
        for i in range(8):
            batch = tokenizer(_item(i, 0).prompt, return_tensors="pt")
            scores += model(**batch).logits[0, -1].log_softmax(-1)[ids]
    return int(scores.argmin())


@contextmanager
def letter_prior_task(
    folder: Path, model_dir: Path, names: tuple[str, ...] = (TASK,), groups: tuple[str, ...] = ()
) -> Iterator[Path]:
    """Register the task (or several alike, in `groups`) and write their lm-eval YAML; yields the include path."""
    target = unliked_letter(model_dir)
    include = folder / "tasks"
    include.mkdir(parents=True, exist_ok=True)
    (include / "utils.py").write_text(UTILS)
    for name in names:
        loader = functools.partial(_items, target)
        spec = registry.TaskSpec(
            name, "behavior", "test", "target: the option 'red'; wanted", "a test", "none", loader, groups=groups
        )
        registry.register(spec)
        (include / f"se_{name}.yaml").write_text(render_yaml(spec))
    try:
        yield include
    finally:
        for name in names:
            registry._REGISTRY.pop(name, None)


def letter_vector(model_dir: Path, path: Path) -> Path:
    """A last-layer vector along the unembedding of the task's answer letter against the other letters."""
    model, _, ids = _model(model_dir)
    letter = unliked_letter(model_dir)
    unembed = model.get_output_embeddings().weight.detach()
    others = [token for k, token in enumerate(ids) if k != letter]
    direction = unembed[ids[letter]] - unembed[others].mean(dim=0)
    last = model.config.num_hidden_layers - 1
    meta = VectorMeta(method="letter-bias", positions=PositionMode.LAST_PROMPT)
    return save_vector(SteeringVector({SiteKey(Site.RESID, last): direction}, meta), path)
