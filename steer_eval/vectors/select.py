"""Choosing a vector's layer and strength on the validation split (never the test split): every layer of a
per-layer vector x every strength is scored by the rate of target answers (ties: higher mean propensity,
then the smaller strength), against the unsteered model on the same items. The sweep table and the choice
are stored in the vector's metadata."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from steer_eval.errors import VectorFileError
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import interventions_from_vector
from steer_eval.steering.positions import SequenceLayout
from steer_eval.tasks.items import MCItem
from steer_eval.vectors.capture import Reading, read_last_token
from steer_eval.vectors.choices import choice_tokens
from steer_eval.vectors.format import SteeringVector

DEFAULT_STRENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # PAS's grid


@dataclass(frozen=True)
class Score:
    accuracy: float  # share of items whose top answer is the target
    propensity: float  # mean of log p(target) - max log p(other)


def score_items(
    model: nn.Module,
    tokenizer,
    items: Sequence[MCItem],
    steerer: Steerer | None = None,
    batch_size: int = 16,
    add_special_tokens: bool = True,
) -> Score:
    """Target-answer rate and propensity from the answer-letter log-probabilities, optionally steered.
    Position modes see the prompt as lm-eval does: it ends before any answer prefix the options share."""
    tokens = [choice_tokens(tokenizer, item, add_special_tokens) for item in items]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def steering(start: int, lengths: list[int], width: int):
        prompts = [t.prompt_length for t in tokens[start : start + len(lengths)]]
        return steerer.active(SequenceLayout.for_scoring(lengths, prompts, width, "right"))

    correct, margins = 0, 0.0
    batches = read_last_token(
        model,
        [t.context for t in tokens],
        Reading(()),
        option_ids=[t.options for t in tokens],
        batch_size=batch_size,
        pad_id=pad,
        model_map=steerer.model_map if steerer else None,
        around_batch=steering if steerer else None,
    )
    start = 0
    for batch in batches:
        for row, logprobs in enumerate(batch.option_logprobs):
            item = items[start + row]
            target = logprobs[item.target]
            others = torch.cat([logprobs[: item.target], logprobs[item.target + 1 :]])
            best_other = others[torch.isfinite(others)].max()
            correct += int(target > best_other)
            margins += float(target - best_other)
        start += len(batch.lengths)
    return Score(correct / len(items), margins / len(items))


def select_on_validation(
    model: nn.Module,
    tokenizer,
    vector: SteeringVector,
    items: Sequence[MCItem],
    strengths: Sequence[float] = DEFAULT_STRENGTHS,
    batch_size: int = 16,
    progress: bool = False,
    add_special_tokens: bool = True,
    target_is_desired: bool = True,
) -> dict[str, Any]:
    """Sweep layers x strengths on `items` (the validation split); set the vector's default layer and
    strength to the best cell and return the sweep record (also stored under meta.extra['selection']).

    Vectors point towards the task's target answer (as CAA's do). Where that target is the unwanted
    behaviour (`target_is_desired=False`, e.g. CAA's sycophancy set, whose target is the sycophantic
    answer), the strengths are applied negated and "best" means the fewest target answers: selecting for
    more of the target would choose the most sycophantic strength (METHODS.md, the PAS evaluation's flaw 2)."""
    sign = 1 if target_is_desired else -1
    strengths = [sign * a for a in strengths]
    baseline = score_items(model, tokenizer, items, batch_size=batch_size, add_special_tokens=add_special_tokens)
    steerer = Steerer(model)
    layers: list[int | None] = list(vector.layers) if vector.meta.per_layer else [None]
    cells = []
    grid = [(layer, alpha) for layer in layers for alpha in strengths]
    for layer, alpha in tqdm(grid, desc="Selecting on validation", disable=not progress, unit="cell"):
        steerer.set_interventions(interventions_from_vector(vector, alpha=alpha, layer=layer))
        score = score_items(model, tokenizer, items, steerer, batch_size, add_special_tokens)
        cells.append({"layer": layer, "alpha": alpha, "accuracy": score.accuracy, "propensity": score.propensity})
    best = max(cells, key=lambda c: (sign * c["accuracy"], sign * c["propensity"], -abs(c["alpha"])))
    wanted = "the target-answer rate" if sign > 0 else "the lowest target-answer rate (the target is unwanted)"
    record = {
        "split": "validation",
        "n_items": len(items),
        "criterion": f"{wanted}, then mean propensity the same way, then the smaller strength",
        "target_is_desired": target_is_desired,
        "baseline": {"accuracy": baseline.accuracy, "propensity": baseline.propensity},
        "chosen": {"layer": best["layer"], "alpha": best["alpha"]},
        "improves_on_baseline": sign * best["accuracy"] > sign * baseline.accuracy,
        "cells": cells,
    }
    vector.meta.default_alpha = float(best["alpha"])
    if best["layer"] is not None:
        vector.meta.default_layer = int(best["layer"])
    vector.meta.extra["selection"] = record
    return record


@dataclass(frozen=True)
class Selected:
    """The layer and strength a vector's validation sweep chose (`extra.selection.chosen`)."""

    alpha: float
    layer: int | None  # None: not a per-layer vector (all its tensors act together)


def recorded_selection(vector: SteeringVector, where: str) -> Selected | None:
    """What `select_on_validation` recorded in the vector, or None when it was never selected (built
    without --select-on, imported, or a random control). Only the record counts: `default_alpha` is set
    by every builder and importer, so it cannot tell a selected strength from a default one."""
    record = vector.meta.extra.get("selection")
    if record is None:
        return None
    chosen = record.get("chosen") if isinstance(record, dict) else None
    alpha = chosen.get("alpha") if isinstance(chosen, dict) else None
    layer = chosen.get("layer") if isinstance(chosen, dict) else None
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise VectorFileError(
            f"{where}: its selection record (extra.selection.chosen) holds no finite strength; rebuild it with "
            "--select-on validation"
        )
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int) or layer not in vector.layers):
        raise VectorFileError(
            f"{where}: its selection record names layer {layer!r}, which the file does not hold (layers "
            f"{vector.layers}); rebuild it with --select-on validation"
        )
    return Selected(float(alpha), layer)
