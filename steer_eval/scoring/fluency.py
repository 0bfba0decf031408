"""Fluency without a judge: how repetitive a text is (distinct n-grams) and how long. The third measure, the
mean per-token negative log-likelihood of the text under the unsteered model, needs the model and is the
backend's (`SteerEvalLM.continuation_nll`); run/textscore.py puts the three together per item.

Degenerate steered text ("silly silly silly ...", or nothing at all) shows up as a cost: distinct-2 falls,
the unsteered model finds the text unlikely, and the length moves."""

from __future__ import annotations


def words(text: str) -> list[str]:
    return text.split()


def distinct_n(text: str, n: int = 2) -> float | None:
    """Distinct n-grams over all n-grams of the text's words (1.0: no repetition); None when the text has
    fewer than n words (a one-word reply is neither repetitive nor varied)."""
    tokens = words(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def length_words(text: str) -> int:
    return len(words(text))
