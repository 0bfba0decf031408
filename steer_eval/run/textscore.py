"""Scoring a generation cell's texts: the task's scorer gives each item its behaviour score (None where the
text cannot be scored), and fluency is measured on the same texts: mean per-token NLL under the unsteered
model (the backend computes it), distinct-2 and length in words. The values go into the cell's item
records, where the analysis pairs them with the baseline's, item by item."""

from __future__ import annotations

from collections.abc import Sequence

from steer_eval.scoring import get_scorer
from steer_eval.scoring.fluency import distinct_n, length_words


def prompt_of(sample: dict) -> str:
    """The context lm-eval generated from (with any few-shot examples), as the model saw it."""
    arguments = sample.get("arguments") or []
    first = arguments[0] if arguments else None
    if isinstance(first, (list, tuple)) and first and isinstance(first[0], str):
        return first[0]
    return str(sample.get("doc", {}).get("prompt", ""))


def as_continuation(context: str, text: str) -> str:
    """The text as it continues the context. Decoding a generation drops the space its first token carries
    for SentencePiece and word-level tokenizers ("bot :" + "it was"), which scored as written would glue
    the two words into one unlikely token; byte-level BPE keeps it (" it was"), so nothing is added then."""
    if context and text and not context[-1].isspace() and not text[0].isspace():
        return " " + text
    return text


def add_text_scores(
    records: list[dict], samples: Sequence[dict], scorer_name: str | None, lm, concept: str = ""
) -> None:
    """Add `score` (and a judge's other ratings), `nll`, `distinct2` and `words` to each generation record (in
    place). `lm` is the backend; its `continuation_nll` scores the texts with steering off. `concept` names the
    task's behaviour in words (what a judge looks for)."""
    texts = [str(r.get("text", "")) for r in records]
    if scorer_name:
        scorer = get_scorer(scorer_name)
        references = [str(s.get("doc", {}).get("reference", "")) for s in samples]
        details = scorer.score_details(texts, references, [prompt_of(s) for s in samples], concept)
        for record, detail in zip(records, details, strict=True):
            record.update(detail)
    scorable = [i for i, t in enumerate(texts) if t.strip()]
    pairs = [(prompt_of(samples[i]), texts[i]) for i in scorable]
    nll = lm.continuation_nll([(c, as_continuation(c, t)) for c, t in pairs]) if pairs else []
    by_item = dict(zip(scorable, nll, strict=True))
    for i, (record, text) in enumerate(zip(records, texts, strict=True)):
        record["nll"] = by_item.get(i)
        record["distinct2"] = distinct_n(text, 2)
        record["words"] = length_words(text)
