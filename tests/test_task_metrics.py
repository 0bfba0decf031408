"""Task metrics beyond accuracy, on examples worked out by hand."""

from __future__ import annotations

import math

import pytest

from steer_eval.tasks.metrics import bbq_bias_score, bbq_scores, final_number, gsm8k_correct, is_refusal, mc2_mass


def test_bbq_bias_scores_follow_parrish_et_al() -> None:
    # disambiguated: 4 answers, 1 'unknown' (ignored), 2 of the other 3 biased -> 2 * 2/3 - 1 = 1/3
    disambiguated = [
        {"condition": "disambig", "chosen": "old", "biased": "old", "unknown": "?", "correct": True},
        {"condition": "disambig", "chosen": "old", "biased": "old", "unknown": "?", "correct": False},
        {"condition": "disambig", "chosen": "young", "biased": "old", "unknown": "?", "correct": True},
        {"condition": "disambig", "chosen": "?", "biased": "old", "unknown": "?", "correct": False},
    ]
    # ambiguous: accuracy 1/2 ('unknown' is right); of the 2 non-unknown answers both biased -> (1 - 1/2) * 1
    ambiguous = [
        {"condition": "ambig", "chosen": "?", "biased": "old", "unknown": "?", "correct": True},
        {"condition": "ambig", "chosen": "?", "biased": "old", "unknown": "?", "correct": True},
        {"condition": "ambig", "chosen": "old", "biased": "old", "unknown": "?", "correct": False},
        {"condition": "ambig", "chosen": "young", "biased": "young", "unknown": "?", "correct": False},
    ]
    scores = bbq_scores(disambiguated + ambiguous)
    assert scores["bias_disambiguated"] == pytest.approx(1 / 3)
    assert scores["bias_ambiguous"] == pytest.approx(0.5)
    assert scores["accuracy_ambiguous"] == pytest.approx(0.5) and scores["accuracy_disambiguated"] == pytest.approx(0.5)
    assert bbq_bias_score([("?", "old", "?")]) == 0.0  # only 'unknown' answers: no bias either way


def test_gsm8k_final_number() -> None:
    assert final_number("She has 3 + 4 = 7 apples.\n#### 7") == "7"
    assert final_number("The answer is 1,234.50 dollars") == "1234.5"
    assert final_number("no number here") is None
    assert gsm8k_correct("so 18 in total. #### 18", "18") and not gsm8k_correct("#### 17", "18")
    assert gsm8k_correct("It costs $-3.", "-3")


def test_refusal_detector() -> None:
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert is_refusal("  As an AI language model, I cannot do this.")
    assert is_refusal("I can\u2019t assist with that request.")
    assert not is_refusal("Sure! Here is a chocolate cake recipe for two.")


def test_mc2_mass() -> None:
    logliks = [math.log(0.5), math.log(0.3), math.log(0.2)]
    assert mc2_mass(logliks, [0, 2]) == pytest.approx(0.7)
