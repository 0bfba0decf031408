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
    task's behaviour in words (what a judge looks for). With several draws per prompt (`texts`), every draw is
    scored and each value is the mean over the draws that have one (`scores` keeps the draws' own)."""
    draws = [[str(t) for t in r.get("texts") or [r.get("text", "")]] for r in records]
    flat = [(i, text) for i, texts in enumerate(draws) for text in texts]  # (item, text) for every draw
    prompts = [prompt_of(s) for s in samples]
    per_draw: list[dict] = [{} for _ in flat]
    if scorer_name:
        scorer = get_scorer(scorer_name)
        references = [str(samples[i].get("doc", {}).get("reference", "")) for i, _ in flat]
        details = scorer.score_details([t for _, t in flat], references, [prompts[i] for i, _ in flat], concept)
        per_draw = [dict(d) for d in details]
    scorable = [n for n, (_, text) in enumerate(flat) if text.strip()]
    pairs = [(prompts[flat[n][0]], as_continuation(prompts[flat[n][0]], flat[n][1])) for n in scorable]
    for n, nll in zip(scorable, lm.continuation_nll(pairs) if pairs else [], strict=True):
        per_draw[n]["nll"] = nll
    for n, (_, text) in enumerate(flat):
        per_draw[n].update(distinct2=distinct_n(text, 2), words=length_words(text))
    start = 0
    for record, texts in zip(records, draws, strict=True):  # each item's draws sit together in `flat`
        mine, start = per_draw[start : start + len(texts)], start + len(texts)
        for name in {name for d in mine for name in d}:
            values = [d[name] for d in mine if d.get(name) is not None]
            record[name] = sum(values) / len(values) if values else None
        if len(mine) > 1 and scorer_name:
            record["scores"] = [d.get("score") for d in mine]
        record.setdefault("nll", None)
