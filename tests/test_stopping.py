"""Per-row stop sequences (steering/stopping.py): the same rule as lm-eval's MultiTokenEOSCriteria for when a
row has met a stop sequence, each row stopping on its own, and the same texts as lm-eval's `hf` model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils_hf import stop_sequences_criteria
from tiny import tiny_tokenizer

from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.steering.stopping import StopSequences

PROMPTS = ["the cat is", "a dog was very", "question : is the bird red ? answer :", "one two three", "we"]


def test_a_row_is_done_exactly_when_lm_evals_rule_finds_a_stop_sequence_in_it() -> None:
    tokenizer = tiny_tokenizer()
    stop = ["red blue", "cat dog", "</s>"]  # windows of 4 and 3 tokens
    rows, prompt_length = 48, 3
    generator = torch.Generator().manual_seed(0)
    words = [tokenizer.convert_tokens_to_ids(w) for w in ("red", "blue", "cat", "dog", "the", "is", "a", "of")]
    ids = torch.tensor(words)[torch.randint(len(words), (rows, prompt_length + 12), generator=generator)]
    ours = StopSequences(tokenizer, stop, prompt_length, rows)
    theirs = stop_sequences_criteria(tokenizer, stop, prompt_length, rows)
    seen_done = set()
    for step in range(1, 13):
        done = ours(ids[:, : prompt_length + step], None)
        theirs(ids[:, : prompt_length + step], None)
        # lm-eval's trackers per stop sequence: a row is done once any of them has found its sequence
        expected = torch.tensor([any(c.done_tracker[r] for c in theirs) for r in range(rows)])
        assert torch.equal(done, expected), step
        seen_done |= set(done.nonzero().flatten().tolist())
    assert 0 < len(seen_done) < rows  # the sequences were met in some rows and not in others


def test_no_stop_sequences_never_stops_a_row() -> None:
    ours = StopSequences(tiny_tokenizer(), [], 2, 3)
    assert not ours(torch.ones(3, 6, dtype=torch.long), None).any()


def _generate(lm, until: list[str], prompts: list[str] = PROMPTS, max_gen_toks: int = 12) -> list[str]:
    kwargs = {"until": until, "max_gen_toks": max_gen_toks, "do_sample": False}
    return lm.generate_until([Instance("generate_until", {}, (p, kwargs), i) for i, p in enumerate(prompts)], True)


def _forward_calls(lm) -> list[int]:
    calls = [0]
    lm.model.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.fixture(scope="module")
def pair(tiny_dir: Path) -> tuple[SteerEvalLM, HFLM]:
    common = dict(pretrained=str(tiny_dir), device="cpu", batch_size=8)
    return SteerEvalLM(**common), HFLM(**common)


def test_rows_meeting_different_stop_sequences_stop_early_with_lm_evals_texts(pair) -> None:
    ours, theirs = pair
    free = _generate(theirs, ["</s>"])  # what each prompt writes when nothing stops it
    # the prompts whose text runs on (the tiny model's random weights), each with a stop word met early in
    # its own text: the rows meet different sequences
    long = {p: text.split() for p, text in zip(PROMPTS, free, strict=True) if len(text.split()) >= 8}
    until = sorted({words[2] for words in long.values()})
    assert len(until) > 1, free
    ours_calls, theirs_calls = _forward_calls(ours), _forward_calls(theirs)
    ours_texts, theirs_texts = _generate(ours, until, list(long)), _generate(theirs, until, list(long))
    assert ours_texts == theirs_texts
    assert all(len(text.split()) <= 2 for text in ours_texts)  # each cut before its row's third word
    # lm-eval decodes until one sequence is in every row; here each row stops after its own
    assert ours_calls[0] < theirs_calls[0], (ours_calls, theirs_calls)
