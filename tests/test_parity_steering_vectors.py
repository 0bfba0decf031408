"""Our CAA and PCA vectors against an independent implementation: the `steering-vectors` package's
mean-difference and PCA directions, on the same model and the same pairs (tox installs it with --no-deps:
it declares transformers<5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from steer_eval.tasks import load_split
from steer_eval.vectors.build import BuildSpec, build_vector
from steer_eval.vectors.choices import choice_tokens
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Site

steering_vectors = pytest.importorskip(
    "steering_vectors",
    reason="steering-vectors is not installed (tox installs it: pip install --no-deps steering-vectors)",
)


def _round_trip_items(tokenizer, items):
    """Items whose answer sequences survive decode -> encode, and the pairs as strings for steering-vectors
    (it takes text; we take the same text's tokens)."""
    kept, pairs = [], []
    for item in items:
        tokens = choice_tokens(tokenizer, item)
        sequences = [tokens.answer_sequence(item.target)] + [tokens.answer_sequence(o) for o in item.others]
        texts = [tokenizer.decode(s, skip_special_tokens=True) for s in sequences]
        if all(tokenizer(t)["input_ids"] == s for t, s in zip(texts, sequences, strict=True)):
            kept.append(item)
            pairs += [(texts[0], negative) for negative in texts[1:]]
    return kept, pairs


@pytest.mark.parametrize(
    ("kind", "task"), [("demo", "demo_sycophancy"), ("real", "caa_sycophancy"), ("real", "bbq_age")]
)
def test_caa_and_pca_match_steering_vectors(kind: str, task: str, request) -> None:
    folder: Path = request.getfixturevalue("demo_dir" if kind == "demo" else "real_model_dir")
    data = None if kind == "demo" else request.getfixturevalue("shared_data")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    items, pairs = _round_trip_items(tokenizer, load_split(task, "train", data)[:120])
    assert len(items) >= 60, "too few items survive the decode/encode round trip to compare"
    layers = list(range(model.config.num_hidden_layers))
    theirs = steering_vectors.train_steering_vector(
        model, tokenizer, pairs, layers=layers, read_token_index=-1, batch_size=8, show_progress=False
    )
    ours = build_vector(model, tokenizer, BuildSpec("caa", task, layers=layers, batch_size=8), items)
    theirs_pca = steering_vectors.train_steering_vector(
        model,
        tokenizer,
        pairs,
        layers=layers,
        read_token_index=-1,
        batch_size=8,
        aggregator=steering_vectors.pca_aggregator(),
    )
    ours_pca = build_vector(model, tokenizer, BuildSpec("pca", task, layers=layers, batch_size=8), items)
    for layer in layers:
        a = theirs_pca.layer_activations[layer].flatten().double()
        b = ours_pca.directions[SiteKey(Site.RESID, layer)].double()
        assert float(torch.nn.functional.cosine_similarity(a, b, dim=0)) >= 0.9999, f"pca layer {layer}"
    for layer in layers:
        a = theirs.layer_activations[layer].flatten().double()
        b = ours.directions[SiteKey(Site.RESID, layer)].double()
        assert float(torch.nn.functional.cosine_similarity(a, b, dim=0)) >= 0.9999, f"layer {layer}"
        assert float((a.norm() - b.norm()).abs() / a.norm()) < 1e-3
