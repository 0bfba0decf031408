"""Each builder against a hand computation on hidden states read with plain `output_hidden_states`,
one unpadded sequence at a time: on the demo model and on real benchmark data (CAA, BBQ, TruthfulQA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from steer_eval.tasks import load_split
from steer_eval.vectors.build import BuildSpec, build_vector
from steer_eval.vectors.choices import choice_tokens
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Site

N_ITEMS = 40
CASES = [("demo", "demo_sentiment"), ("real", "caa_sycophancy"), ("real", "bbq_age"), ("real", "truthfulqa_mc1")]


def _setup(kind: str, task: str, request) -> tuple:
    folder: Path = request.getfixturevalue("demo_dir" if kind == "demo" else "real_model_dir")
    data = None if kind == "demo" else request.getfixturevalue("shared_data")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    items = load_split(task, "train", data)
    return model, tokenizer, items


def _hidden(model, ids: list[int]) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return tuple(h[0, -1].double() for h in out.hidden_states), out.logits[0, -1].double()


def _spec(method: str, task: str, **kw) -> BuildSpec:
    return BuildSpec(method, task, layers=[0, 1], max_items=N_ITEMS, batch_size=7, **kw)


def _items_used(items, spec):
    from steer_eval.vectors.build import prepare_items

    return prepare_items(items, spec)


@pytest.mark.parametrize(("kind", "task"), CASES)
def test_caa_and_pca_match_hand_computation(kind: str, task: str, request) -> None:
    model, tokenizer, items = _setup(kind, task, request)
    spec = _spec("caa", task)
    diffs = {0: [], 1: []}
    for item in _items_used(items, spec):
        tokens = choice_tokens(tokenizer, item)
        positive, _ = _hidden(model, tokens.answer_sequence(item.target))
        for other in item.others:
            negative, _ = _hidden(model, tokens.answer_sequence(other))
            for layer in diffs:  # block L's output is hidden_states[L + 1]
                diffs[layer].append(positive[layer + 1] - negative[layer + 1])
    caa = build_vector(model, tokenizer, spec, items)
    pca = build_vector(model, tokenizer, _spec("pca", task), items)
    for layer, rows in diffs.items():
        stacked = torch.stack(rows)
        mean = stacked.mean(dim=0)
        torch.testing.assert_close(caa.directions[SiteKey(Site.RESID, layer)].double(), mean, atol=2e-5, rtol=1e-4)
        component = np.linalg.svd(stacked.numpy(), full_matrices=False)[2][0]  # uncentred
        component *= np.sign(component @ mean.numpy())
        expected = torch.from_numpy(component * (component @ mean.numpy()))
        torch.testing.assert_close(pca.directions[SiteKey(Site.RESID, layer)].double(), expected, atol=1e-4, rtol=1e-3)
    diagnostics = caa.meta.extra["diagnostics"]
    assert diagnostics["n_pairs"] == len(diffs[0]) and caa.meta.extra["split"] == "train"
    rows = [d for d in diffs[1] if bool(d.any())]  # a zero difference has no direction
    cosines = [
        float(torch.nn.functional.cosine_similarity(a, b, dim=0))
        for i, a in enumerate(rows)
        for j, b in enumerate(rows)
        if i != j
    ]
    brute = sum(cosines) / len(cosines)
    assert diagnostics["per_layer"]["resid.1"]["mean_pairwise_cosine"] == pytest.approx(brute, abs=1e-6)


def _predictions(model, tokenizer, items):
    """The model's own answers, by hand: argmax of the answer-letter logits after the unpadded prompt (and any
    answer prefix the options share); PASf's activations at the prompt's own last token."""
    answers, inputs = [], []
    for item in items:
        tokens = choice_tokens(tokenizer, item)
        _, logits = _hidden(model, tokens.context)
        answers.append(int(torch.argmax(logits[tokens.options])))
        inputs.append(_hidden(model, tokens.context[: tokens.prompt_length])[0])
    return answers, inputs


@pytest.mark.parametrize(("kind", "task"), CASES)
def test_pas_family_partitions_follow_the_models_own_answers(kind: str, task: str, request) -> None:
    model, tokenizer, items = _setup(kind, task, request)
    used = _items_used(items, _spec("pasf", task))
    answers, prompt_hidden = _predictions(model, tokenizer, used)
    right = [a == it.target for a, it in zip(answers, used, strict=True)]
    if all(right) or not any(right):
        pytest.skip("the model answers every sampled item the same way; PAS needs both classes")

    def text_hidden(item, option):
        return _hidden(model, tokenizer(item.introspective(option))["input_ids"])[0]

    for method in ("pasf", "ipasa", "ipaswo"):
        vector = build_vector(model, tokenizer, _spec(method, task), items)
        answers_seen = vector.meta.extra["diagnostics"]["model_answers"]
        assert answers_seen == {"right": sum(right), "wrong": len(right) - sum(right)}
        assert vector.meta.read_site.startswith("resid_pre") and vector.meta.positions.value == "last_prompt"
        for layer in (0, 1):  # PAS reads the block INPUT: hidden_states[L]
            if method == "pasf":
                pos = [h[layer] for h, ok in zip(prompt_hidden, right, strict=True) if ok]
                neg = [h[layer] for h, ok in zip(prompt_hidden, right, strict=True) if not ok]
            elif method == "ipasa":
                pos = [text_hidden(it, it.target)[layer] for it, ok in zip(used, right, strict=True) if ok]
                neg = [text_hidden(it, a)[layer] for it, a, ok in zip(used, answers, right, strict=True) if not ok]
            else:
                wrong = [(it, a) for it, a, ok in zip(used, answers, right, strict=True) if not ok]
                pos = [text_hidden(it, it.target)[layer] for it, _ in wrong]
                neg = [text_hidden(it, a)[layer] for it, a in wrong]
            expected = torch.stack(pos).mean(0) - torch.stack(neg).mean(0)
            got = vector.directions[SiteKey(Site.RESID, layer)].double()
            torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4, msg=f"{method} layer {layer}")


# (Not caa_sycophancy: on a random model the answer-letter activations depend only on the letter, and A/B
# are balanced there, so every unit's momentum is exactly 0.)
@pytest.mark.parametrize(("kind", "task"), [CASES[0], CASES[3]])
def test_austeer_keeps_the_top_k_units_by_hand_counted_momentum(kind: str, task: str, request) -> None:
    model, tokenizer, items = _setup(kind, task, request)
    spec = BuildSpec("austeer", task, layers=None, max_items=N_ITEMS, batch_size=5, top_k=12)
    n_layers = model.config.num_hidden_layers
    diffs = []
    for item in _items_used(items, spec):
        tokens = choice_tokens(tokenizer, item)
        positive, _ = _hidden(model, tokens.answer_sequence(item.target))
        for other in item.others:
            negative, _ = _hidden(model, tokens.answer_sequence(other))
            # block outputs; the last layer's output is read before the final norm, so take layers < n - 1
            diffs.append(torch.stack([positive[layer + 1] - negative[layer + 1] for layer in range(n_layers - 1)]))
    d = torch.stack(diffs)  # [pairs, layers, hidden]
    greater, less = (d > 0).sum(0).double(), (d < 0).sum(0).double()
    beta = torch.where(greater > less, greater, -less) / len(d)
    beta[greater == less] = 0
    assert int((beta != 0).sum()) > 12  # the case has more candidates than are kept
    vector = build_vector(model, tokenizer, spec, items)
    assert vector.meta.action.value == "au_scale" and not vector.meta.per_layer
    assert sum(int((t != 0).sum()) for t in vector.directions.values()) == 12
    threshold = min(float(t[t != 0].abs().min()) for t in vector.directions.values())
    for key, tensor in vector.directions.items():
        if key.layer < n_layers - 1:
            chosen = tensor != 0
            torch.testing.assert_close(tensor[chosen].double(), beta[key.layer][chosen])
    # nothing left out beats the weakest kept unit (ties at the boundary are broken by the standardised difference)
    kept = {(k.layer, i) for k, t in vector.directions.items() for i in torch.nonzero(t).flatten().tolist()}
    for layer in range(n_layers - 1):
        for index in torch.nonzero(beta[layer].abs() > threshold + 1e-6).flatten().tolist():
            assert (layer, index) in kept, (layer, index, float(beta[layer, index]), threshold)


def test_batching_and_padding_do_not_change_the_vector(demo_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(demo_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(demo_dir)
    items = load_split("demo_sycophancy", "train")
    one = build_vector(model, tokenizer, BuildSpec("caa", "demo_sycophancy", [2], max_items=30, batch_size=1), items)
    many = build_vector(model, tokenizer, BuildSpec("caa", "demo_sycophancy", [2], max_items=30, batch_size=9), items)
    key = SiteKey(Site.RESID, 2)
    torch.testing.assert_close(one.directions[key], many.directions[key], atol=1e-5, rtol=1e-5)


def _module_reads(model, module, ids: list[int], use_input: bool) -> torch.Tensor:
    seen = {}

    def output_hook(mod, args, output):
        seen["a"] = (output[0] if isinstance(output, tuple) else output)[0, -1].double()

    def input_hook(mod, args):
        seen["a"] = args[0][0, -1].double()

    handle = module.register_forward_pre_hook(input_hook) if use_input else module.register_forward_hook(output_hook)
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]))
    finally:
        handle.remove()
    return seen["a"]


def test_mlp_and_attention_head_sites_read_the_right_modules(demo_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(demo_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(demo_dir)
    items = load_split("demo_sycophancy", "train")
    spec = BuildSpec("caa", "demo_sycophancy", [1], site=Site.MLP, max_items=25, batch_size=6)
    layer = model.model.layers[1]
    diffs_mlp, diffs_heads = [], []
    for item in _items_used(items, spec):
        tokens = choice_tokens(tokenizer, item)
        for other in item.others:
            pos, neg = tokens.answer_sequence(item.target), tokens.answer_sequence(other)
            diffs_mlp.append(_module_reads(model, layer.mlp, pos, False) - _module_reads(model, layer.mlp, neg, False))
            o_proj = layer.self_attn.o_proj
            diffs_heads.append(_module_reads(model, o_proj, pos, True) - _module_reads(model, o_proj, neg, True))
    vector = build_vector(model, tokenizer, spec, items)
    expected = torch.stack(diffs_mlp).mean(0)
    torch.testing.assert_close(vector.directions[SiteKey(Site.MLP, 1)].double(), expected, atol=2e-5, rtol=1e-4)
    au = build_vector(
        model, tokenizer, BuildSpec("austeer", "demo_sycophancy", [1], site=Site.HEAD, max_items=25, top_k=10), items
    )
    assert all(key.site is Site.HEAD for key in au.keys)
    d = torch.stack(diffs_heads)
    beta = torch.where((d > 0).sum(0) > (d < 0).sum(0), (d > 0).sum(0), -(d < 0).sum(0)).double() / len(d)
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    for key in au.keys:
        tensor = au.directions[key]
        chosen = torch.nonzero(tensor).flatten()
        torch.testing.assert_close(tensor[chosen].double(), beta[key.head * head_dim + chosen])
