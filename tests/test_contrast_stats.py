"""The running statistics behind every builder, on constructed examples worked out by hand."""

from __future__ import annotations

import pytest
import torch

from steer_eval.errors import SteerEvalError
from steer_eval.vectors.contrast import ContrastStats
from steer_eval.vectors.format import SiteKey
from steer_eval.vectors.methods import top_units
from steer_eval.vocab import Site


def test_momentum_of_a_constructed_example() -> None:
    # 4 pairs, 3 units. unit 0: pos > neg in 3 of 4 pairs -> +0.75; unit 1: pos < neg in all 4 -> -1.0;
    # unit 2: 2 greater, 2 less -> a tie -> 0.
    positive = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    negative = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.0, 1.0, 1.0], [1.0, 3.0, 1.0]])
    stats = ContrastStats(3)
    stats.add_pairs(positive[:2], negative[:2])  # two batches: the counts must accumulate
    stats.add_pairs(positive[2:], negative[2:])
    torch.testing.assert_close(stats.momentum(), torch.tensor([0.75, -1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(stats.mean_difference(), (positive - negative).double().mean(0))


def test_equal_activations_count_in_neither_direction() -> None:
    stats = ContrastStats(1)
    stats.add_pairs(torch.tensor([[1.0], [1.0], [2.0]]), torch.tensor([[1.0], [1.0], [1.0]]))
    assert float(stats.momentum()[0]) == pytest.approx(1 / 3)


def test_top_k_ranks_units_across_layers_by_absolute_momentum() -> None:
    early, late = ContrastStats(2), ContrastStats(2)
    # early: unit 0 always up (beta 1), unit 1 up in 2 of 3 (beta 2/3); late: unit 1 always down (beta -1)
    early.add_pairs(torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]]), torch.zeros(3, 2))
    late.add_pairs(torch.tensor([[0.0, -1.0], [0.5, -2.0], [-0.5, -1.0]]), torch.zeros(3, 2))
    keys = {SiteKey(Site.RESID, 1): early, SiteKey(Site.RESID, 5): late}
    chosen = top_units(keys, k=2)
    assert set(chosen) == {SiteKey(Site.RESID, 1), SiteKey(Site.RESID, 5)}
    torch.testing.assert_close(chosen[SiteKey(Site.RESID, 1)], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(chosen[SiteKey(Site.RESID, 5)], torch.tensor([0.0, -1.0]))
    three = top_units(keys, k=3)
    assert float(three[SiteKey(Site.RESID, 1)][1]) == pytest.approx(2 / 3)
    with pytest.raises(SteerEvalError, match="top-k"):
        top_units(keys, k=0)


def test_separation_of_a_constructed_example() -> None:
    stats = ContrastStats(2)
    positive = torch.tensor([[2.0, 0.0], [4.0, 1.0], [3.0, 5.0]])
    negative = torch.tensor([[0.0, 0.0], [1.0, 9.0], [5.0, 0.0]])
    stats.add_pairs(positive, negative)
    result = stats.separation(torch.tensor([10.0, 0.0]))  # only the first unit counts; the norm does not
    pos, neg = torch.tensor([2.0, 4.0, 3.0]), torch.tensor([0.0, 1.0, 5.0])
    pooled = ((pos.var(unbiased=False) + neg.var(unbiased=False)) / 2).sqrt()
    assert result["d_prime"] == pytest.approx(float((pos.mean() - neg.mean()) / pooled))
    assert result["ordered_share"] == pytest.approx(2 / 3)  # pairs 1 and 2 ordered, pair 3 not


def test_unpaired_separation_is_the_auc() -> None:
    stats = ContrastStats(1)
    stats.add(torch.tensor([[1.0], [3.0]]), positive=True)
    stats.add(torch.tensor([[0.0], [2.0], [4.0]]), positive=False)
    # positive > negative in (1>0), (3>0), (3>2): 3 of 6 combinations
    assert stats.separation(torch.tensor([1.0]))["ordered_share"] == pytest.approx(0.5)
    assert stats.mean_pairwise_cosine() is None


def test_the_separation_sample_is_capped_but_the_means_use_every_item() -> None:
    stats = ContrastStats(4, sample_cap=10)
    torch.manual_seed(0)
    positive, negative = torch.randn(100, 4) + 1, torch.randn(100, 4)
    for start in range(0, 100, 7):
        stats.add_pairs(positive[start : start + 7], negative[start : start + 7])
    assert stats.separation(torch.ones(4))["sampled"] == 10
    torch.testing.assert_close(stats.mean_difference(), (positive - negative).double().mean(0))


def test_zero_differences_have_no_direction_and_do_not_bias_the_cosine() -> None:
    stats = ContrastStats(2)
    positive = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0], [2.0, 0.0]])
    negative = torch.tensor([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [0.0, 0.0]])  # pair 3: no difference
    stats.add_pairs(positive, negative)
    # the three non-zero differences: (1,0), (0,1), (2,0); cosines 0, 1, 0 -> mean over ordered pairs 2/6
    assert stats.mean_pairwise_cosine() == pytest.approx(1 / 3)
    only_zero = ContrastStats(2)
    only_zero.add_pairs(torch.ones(3, 2), torch.ones(3, 2))
    assert only_zero.mean_pairwise_cosine() is None
    assert only_zero.separation(torch.zeros(2))["d_prime"] is None
