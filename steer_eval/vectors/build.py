"""Building a vector from a task's train split: choose the readings a method needs, run them through the
model (one forward pass per batch covers every requested layer), finish the vector, attach diagnostics.
Only the train split is read here; validation-split selection lives in select.py; test data never."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from steer_eval.errors import SteerEvalError
from steer_eval.prompt_format import PromptFormat
from steer_eval.steering.model_map import ModelMap
from steer_eval.tasks.items import MCItem, data_hash
from steer_eval.tasks.questions import item_question_hash
from steer_eval.tasks.registry import get_task
from steer_eval.vectors.capture import Reading, encode, read_last_token
from steer_eval.vectors.choices import choice_tokens
from steer_eval.vectors.contrast import SAMPLE_CAP, ContrastStats
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vectors.methods import Method, get_method, principal_direction, top_units
from steer_eval.vectors.provenance import trained_on
from steer_eval.vocab import Site

SAMPLE_BUDGET_BYTES = 256 * 2**20  # memory for the separation diagnostic's samples, all keys together


@dataclass
class BuildSpec:
    method: str
    task: str | None
    layers: Sequence[int] | None = None  # None: every layer
    site: Site = Site.RESID
    top_k: int = 20  # AUSteer
    max_items: int | None = None  # cap on train items (a seeded sample), for quick runs
    seed: int = 0
    batch_size: int = 16
    add_special_tokens: bool = True
    prompt_format: PromptFormat = field(default_factory=PromptFormat)  # plain, or the chat template (+ system)


@dataclass
class Readings:
    """Everything one build read: per-key statistics and the PAS prediction tally."""

    stats: dict[SiteKey, ContrastStats]
    n_items: int
    predictions: dict[str, int] = field(default_factory=dict)
    predicted: list[int] = field(default_factory=list)  # PAS: the model's answer to each item


def prepare_items(items: list[MCItem], spec: BuildSpec) -> list[MCItem]:
    if spec.max_items is not None and len(items) > spec.max_items:
        items = random.Random(f"max-items-{spec.seed}").sample(items, spec.max_items)
    return items


def read_keys(model_map: ModelMap, method: Method, spec: BuildSpec) -> list[SiteKey]:
    """The site keys a build reads, after checking everything about the request that needs no weights."""
    if not spec.task:
        raise SteerEvalError(f"method {method.name} needs a task to build from")
    if spec.batch_size < 1 or (spec.max_items is not None and spec.max_items < 1):
        raise SteerEvalError("batch size and max items must be at least 1")
    if spec.layers is not None and not list(spec.layers):
        raise SteerEvalError("no layers requested; give at least one layer (or none for all)")
    if spec.site not in method.sites:
        raise SteerEvalError(
            f"method {method.name} reads {', '.join(s.value for s in method.sites)}, not {spec.site.value}"
        )
    layers = list(range(model_map.n_layers)) if spec.layers is None else sorted(set(spec.layers))
    for layer in layers:
        if not 0 <= layer < model_map.n_layers:
            raise SteerEvalError(
                f"layer {layer} does not exist: {model_map.architecture} has layers 0..{model_map.n_layers - 1}"
            )
    keys = [SiteKey(spec.site, layer) for layer in layers]
    for key in keys:
        model_map.module(key)
    if method.name == "austeer":
        units = sum(_width(model_map, key) for key in keys)
        if not 1 <= spec.top_k <= units:
            raise SteerEvalError(
                f"--top-k must be between 1 and the {units} units of the layers read (got {spec.top_k})"
            )
    return keys


def collect(
    model: nn.Module,
    tokenizer,
    items: list[MCItem],
    method: Method,
    spec: BuildSpec,
    keys: list[SiteKey],
    progress: bool = False,
) -> Readings:
    model_map = ModelMap.of(model)
    widths = {key: _width(model_map, key) for key in keys}
    cap = max(32, min(SAMPLE_CAP, SAMPLE_BUDGET_BYTES // max(1, 2 * 4 * sum(widths.values()))))
    stats = {k: ContrastStats(widths[k], method.keeps_differences, cap, spec.seed) for k in keys}
    reading = Reading(tuple(keys), block_input=method.block_input)
    tokens = [choice_tokens(tokenizer, item, spec.add_special_tokens) for item in items]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    run = dict(batch_size=spec.batch_size, pad_id=pad, progress=progress, model_map=model_map)
    readings = Readings(stats, len(items))

    if not method.needs_predictions:  # caa, pca, austeer: desired vs each opposite answer letter
        pairs = [
            (t.answer_sequence(it.target), t.answer_sequence(o))
            for it, t in zip(items, tokens, strict=True)
            for o in it.others
        ]
        _read_pairs(model, pairs, reading, stats, run)
        return readings

    # PAS: the model's own answers on the full MCQ prompts (PASf reads its activations in the same pass)
    predicted: list[int] = []
    contexts = [t.context for t in tokens]
    mcq_reading = reading if method.name == "pasf" else Reading(())
    desc = "Reading MCQ prompts" if method.name == "pasf" else "Predicting answers"
    # The answer is read after any answer prefix the options share (" (" of " (A)"); PASf's activations at
    # the prompt's own last token, where a `last_prompt` vector is later applied.
    prompt_ends = [t.prompt_length - 1 for t in tokens]
    mcq_run = {**run, "read_index": prompt_ends}
    for start, batch in _batched(model, contexts, mcq_reading, [t.options for t in tokens], mcq_run, desc):
        choice = batch.option_logprobs.argmax(dim=1)
        right = torch.tensor([choice[i] == items[start + i].target for i in range(len(choice))])
        predicted += choice.tolist()
        for key, acts in batch.activations.items():
            if right.any():
                stats[key].add(acts[right], True)
            if (~right).any():
                stats[key].add(acts[~right], False)
    correct = [p == it.target for p, it in zip(predicted, items, strict=True)]
    readings.predictions = {"right": sum(correct), "wrong": len(items) - sum(correct)}
    readings.predicted = predicted
    if method.name == "pasf":
        _need_both(readings.predictions, method)
        return readings

    def text(item: MCItem, option: int) -> list[int]:
        return encode(tokenizer, item.introspective(option), spec.add_special_tokens)

    if method.name == "ipasa":
        _need_both(readings.predictions, method)
        positives = [text(it, it.target) for it, ok in zip(items, correct, strict=True) if ok]
        negatives = [text(it, p) for it, p, ok in zip(items, predicted, correct, strict=True) if not ok]
        for sequences, positive in ((positives, True), (negatives, False)):
            for _, batch in _batched(model, sequences, reading, None, run, "Reading answers"):
                for key, acts in batch.activations.items():
                    stats[key].add(acts, positive)
    else:  # ipaswo
        if not readings.predictions["wrong"]:
            raise SteerEvalError("ipaswo needs items the model gets wrong; it answered every train item correctly")
        pairs = [
            (text(it, it.target), text(it, p)) for it, p, ok in zip(items, predicted, correct, strict=True) if not ok
        ]
        _read_pairs(model, pairs, reading, stats, run)
    return readings


def _need_both(predictions: dict[str, int], method: Method) -> None:
    if not predictions["right"] or not predictions["wrong"]:
        which = "right" if not predictions["right"] else "wrong"
        raise SteerEvalError(
            f"{method.name} contrasts items the model answers right with items it answers wrong, but it got no "
            f"train item {which}; use a task of suitable difficulty or another method"
        )


def pair_batches(pairs: list[tuple[list[int], list[int]]], batch_size: int) -> tuple[list[list[int]], int]:
    """Sequences in reading order and the batch size that puts both halves of each pair in one forward
    pass: each batch is [positives..., negatives...], pairs sorted longest first to limit padding."""
    half = max(1, batch_size // 2)
    order = sorted(range(len(pairs)), key=lambda i: -max(len(pairs[i][0]), len(pairs[i][1])))
    sequences = []
    for start in range(0, len(order), half):
        chunk = [pairs[i] for i in order[start : start + half]]
        sequences += [p for p, _ in chunk] + [n for _, n in chunk]
    return sequences, 2 * half


def _read_pairs(model, pairs, reading, stats, run) -> None:
    sequences, batch_size = pair_batches(pairs, run["batch_size"])
    for _, batch in _batched(model, sequences, reading, None, {**run, "batch_size": batch_size}, "Reading pairs"):
        n = len(batch.lengths) // 2
        for key, acts in batch.activations.items():
            stats[key].add_pairs(acts[:n], acts[n:])


def _batched(model, sequences, reading, option_ids, run, desc):
    start = 0
    for batch in read_last_token(model, sequences, reading, option_ids=option_ids, desc=desc, **run):
        yield start, batch
        start += len(batch.lengths)


def _width(model_map: ModelMap, key: SiteKey) -> int:
    if key.site is Site.HEAD:
        return model_map.head_dim(key.layer) * model_map.n_heads
    return model_map.hidden_size


def finish(method: Method, readings: Readings, spec: BuildSpec, model_map: ModelMap) -> dict[SiteKey, torch.Tensor]:
    """The vector's tensors from the readings."""
    zero = [str(k) for k, s in readings.stats.items() if s.n_pairs and s.n_nonzero_diffs == 0]
    if zero and len(zero) == len(readings.stats):
        raise SteerEvalError(
            f"every pair difference is zero at {', '.join(zero)}: positives and negatives read the same "
            "activations there (e.g. a block input that only sees the last token); read later layers"
        )
    if method.name == "austeer":
        units = top_units(readings.stats, spec.top_k)
        if spec.site is not Site.HEAD:
            return units
        split: dict[SiteKey, torch.Tensor] = {}
        for key, tensor in units.items():
            width = model_map.head_dim(key.layer)
            for head in range(model_map.n_heads):
                part = tensor[head * width : (head + 1) * width]
                if part.any():
                    split[SiteKey(Site.HEAD, key.layer, head)] = part.clone()
        return split
    if method.name == "pca":
        return {key: principal_direction(s, f" at {key}").float() for key, s in readings.stats.items()}
    return {key: s.mean_difference().float() for key, s in readings.stats.items()}


def diagnostics(readings: Readings, directions: dict[SiteKey, torch.Tensor]) -> dict[str, Any]:
    """Per read key: the Braun et al. reliability predictors and the vector's norm, plus warnings."""
    per_key, warnings = {}, []
    for key, stats in sorted(readings.stats.items()):
        if key.site is Site.HEAD:  # read as one o_proj input; written per head
            name = f"attn_units.{key.layer}"
            parts = [t for k, t in directions.items() if k.site is Site.HEAD and k.layer == key.layer]
            norm = float(torch.cat(parts).norm()) if parts else None
            along = stats.mean_difference()  # the head tensors are slices: project on the full mean difference
        else:
            name = key.tensor_name
            vector = directions.get(key)
            norm = None if vector is None else float(vector.norm())
            along = vector if vector is not None and bool(vector.any()) else stats.mean_difference()
        if norm == 0.0:
            warnings.append(f"{name}: the vector is zero (positives and negatives read identical activations)")
        per_key[name] = {
            "norm": norm,
            "mean_pairwise_cosine": stats.mean_pairwise_cosine(),
            **{f"separation_{k}": v for k, v in stats.separation(along).items()},
        }
    first = next(iter(readings.stats.values()))
    counts: dict[str, Any] = {"n_items": readings.n_items, "n_positive": first.n_pos, "n_negative": first.n_neg}
    if first.paired:
        counts["n_pairs"] = first.n_pairs
    if readings.predictions:
        counts["model_answers"] = readings.predictions
    if warnings:
        counts["warnings"] = warnings
    return {**counts, "per_layer": per_key}


def build_vector(
    model: nn.Module,
    tokenizer,
    spec: BuildSpec,
    items: list[MCItem],
    model_name: str | None = None,
    model_revision: str | None = None,
    progress: bool = False,
) -> SteeringVector:
    """Build `spec.method` from `items` (the task's train split) on `model`."""
    method = get_method(spec.method)
    model_map = ModelMap.of(model)
    keys = read_keys(model_map, method, spec)
    items = prepare_items(items, spec)
    if not items:
        raise SteerEvalError(f"task {spec.task} has no train items to build from")
    # read on the prompts as the run will show them; the items' own questions are what the vector records
    shown = spec.prompt_format.items(items, tokenizer)
    reading = replace(spec, add_special_tokens=spec.add_special_tokens and spec.prompt_format.plain)
    readings = collect(model, tokenizer, shown, method, reading, keys, progress)
    directions = finish(method, readings, spec, model_map)
    layers = sorted({k.layer for k in directions})
    meta = VectorMeta(
        method=method.name,
        model_name=model_name,
        model_revision=model_revision,
        hidden_size=model_map.hidden_size,
        action=method.action,
        positions=method.positions,
        default_alpha=1.0,
        per_layer=method.per_layer,
        default_layer=layers[len(layers) // 2] if method.per_layer else None,
        read_site=_read_site(method, spec.site),
        read_positions=method.read_positions,
        data_hash=data_hash(items),
        extra={
            "task": spec.task,
            "task_kind": get_task(spec.task).kind,
            "split": "train",
            # which questions it saw, so a run can count the evaluated items it was trained on
            "trained_on": trained_on(spec.task, "train", map(item_question_hash, items)).to_json(),
            "seed": spec.seed,
            "prompt_format": spec.prompt_format.describe(),
            **(
                {"top_k": spec.top_k, "units_kept": sum(int((t != 0).sum()) for t in directions.values())}
                if method.name == "austeer"
                else {}
            ),
            "diagnostics": diagnostics(readings, directions),
        },
    )
    return SteeringVector(directions, meta)


def _read_site(method: Method, site: Site) -> str:
    if site is Site.RESID:
        return method.read_site
    if site is Site.HEAD:
        return "attention output projection input (per-head units)"
    return f"{site.value} output"
