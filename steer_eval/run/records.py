"""Per-item records from lm-eval's logged samples: for multiple choice, each choice's log-likelihood, the
chosen option, whether it is correct, and the propensity (log-likelihood of the target minus the best other
option); for generation, the text and whether it is correct. Each record carries the document's id and a
hash of the document, so analyses can pair the same item across cells and detect changed data, and the hash
of its normalised question, so they can count the items a vector was trained on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any


def doc_hash(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _loglikelihoods(sample: dict) -> list[float]:
    responses = sample.get("filtered_resps") or sample.get("resps") or []
    values = []
    for response in responses:
        while isinstance(response, (list, tuple)) and response and isinstance(response[0], (list, tuple)):
            response = response[0]
        values.append(float(response[0] if isinstance(response, (list, tuple)) else response))
    return values


def _correct(sample: dict, metric_names: tuple[str, ...]) -> float | None:
    for name in metric_names:
        if name in sample and isinstance(sample[name], (int, float, bool)):
            return float(sample[name])
    return None


TEXT_LIMIT = 2000  # characters of an item's prompt kept (in baseline cells) for the report's examples


def _text(sample: dict) -> tuple[str, list[str]]:
    arguments = sample.get("arguments") or []
    contexts = [a[0] for a in arguments if isinstance(a, (list, tuple)) and a and isinstance(a[0], str)]
    choices = [a[1] for a in arguments if isinstance(a, (list, tuple)) and len(a) > 1 and isinstance(a[1], str)]
    context = contexts[0] if contexts else str(sample.get("doc", {}).get("prompt", ""))
    return context[-TEXT_LIMIT:], choices


def question_of(task, doc: dict, output_type: str) -> str | None:
    """The item's question hash (tasks/questions.py), from the prompt and choices lm-eval builds for it without
    few-shot examples: the same hash a vector records for a training item with this question, for our tasks
    and a user's own lm-eval task alike. None when the task cannot render the document on its own."""
    from steer_eval.tasks.questions import question_hash

    try:
        text = task.doc_to_text(doc)
        choices = task.doc_to_choice(doc) if output_type != "generate_until" else []
    except Exception:  # a user's task code: whatever it raises, the item just has no hash (the run notes it)
        return None
    if isinstance(text, int) and isinstance(choices, list) and 0 <= text < len(choices):
        text = choices[text]  # a task whose text is an index into its choices (lm-eval's winogrande style)
    if not isinstance(choices, (list, tuple)):
        choices = []
    return question_hash(str(text), [str(c) for c in choices])


def _generations(sample: dict) -> list[str]:
    """Every text generated for the document: lm-eval's raw responses hold all draws of a sampled request
    (its default filter keeps only the first)."""
    responses = sample.get("resps") or sample.get("filtered_resps") or [""]
    first = responses[0] if responses else ""
    if isinstance(first, (list, tuple)):
        texts = [t[0] if isinstance(t, (list, tuple)) and t else t for t in first]
        return [str(t) for t in texts] or [""]
    return [str(first)]


def item_record(sample: dict, output_type: str, with_text: bool = False, question: str | None = None) -> dict[str, Any]:
    doc = sample.get("doc", {})
    record: dict[str, Any] = {
        "doc_id": sample.get("doc_id"),
        "item_id": doc.get("id", sample.get("doc_id")),
        "doc_hash": doc_hash(doc),
    }
    if question is not None:
        record["question"] = question  # what a vector's training record is compared with (train_overlap)
    if with_text:
        record["text"], choices = _text(sample)
        if choices and output_type != "generate_until":
            record["choices"] = choices
    if output_type == "generate_until":
        if with_text:
            record["prompt"] = record["text"]  # the report shows it beside the texts written after it
        texts = _generations(sample)
        record.update(text=texts[0], correct=_correct(sample, ("exact_match", "acc")))
        if len(texts) > 1:  # --samples N: every draw (the first is `text`), scored as their mean
            record["texts"] = texts
        if "refusal_rate" in sample:
            record["refused"] = float(sample["refusal_rate"])
        return record
    logliks = _loglikelihoods(sample)
    target = sample.get("target")
    target = int(target) if isinstance(target, (int, float)) or str(target).isdigit() else None
    chosen = max(range(len(logliks)), key=logliks.__getitem__) if logliks else None
    record.update(logliks=logliks, chosen=chosen, target=target, correct=_correct(sample, ("acc",)))
    if record["correct"] is None and target is not None and chosen is not None:
        record["correct"] = float(chosen == target)
    if target is not None and len(logliks) > 1:
        others = [ll for i, ll in enumerate(logliks) if i != target]
        record["propensity"] = logliks[target] - max(others)
    if doc.get("condition"):  # BBQ: what its bias score needs (the option positions as shown)
        record.update(condition=doc["condition"], biased=doc.get("biased", -1), unknown=doc.get("unknown", -1))
    return record


def score_every_draw(records: list[dict], samples: Sequence[dict], task) -> None:
    """With several draws per prompt (`--samples N`), a generation task scored by its own lm-eval metric (GSM8K's
    exact match, the refusal rate) had only the first draw scored: lm-eval's default filter keeps one response
    per document. Each draw is scored here by the task's own `process_results`, and `correct` (and `refused`)
    becomes the mean over the draws, as scorer-scored tasks have it (run/textscore.py); `draws_correct` keeps
    each draw's."""
    for record, sample in zip(records, samples, strict=True):
        texts = record.get("texts")
        if not texts or len(texts) < 2:
            continue
        scored = [task.process_results(sample.get("doc", {}), [text]) for text in texts]
        values = [_correct(s, ("exact_match", "acc")) for s in scored]
        if any(v is None for v in values):
            continue  # a metric we do not read: the first draw's, as lm-eval reports it
        record["draws_correct"] = values
        record["correct"] = sum(values) / len(values)
        refused = [s.get("refusal_rate") for s in scored]
        if all(isinstance(r, (int, float)) for r in refused):
            record["refused"] = sum(refused) / len(refused)
