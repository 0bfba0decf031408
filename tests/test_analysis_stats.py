"""The statistics against reference computations on fixed tables, and their error rates by simulation:
calibration under no effect (single cells and Holm across cells) and coverage of a known effect."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from steer_eval.analysis.stats import minimum_detectable_effect, non_inferiority_p, paired_binary, paired_continuous


def _pairs(n11: int, n10: int, n01: int, n00: int) -> tuple[np.ndarray, np.ndarray]:
    b = np.array([1] * n11 + [1] * n10 + [0] * n01 + [0] * n00, dtype=float)
    s = np.array([1] * n11 + [0] * n10 + [1] * n01 + [0] * n00, dtype=float)
    return b, s


def test_accuracy_effect_matches_reference_computations() -> None:
    b, s = _pairs(40, 5, 15, 40)
    effect = paired_binary(b, s, np.random.default_rng(0), n_boot=20000)
    assert effect.delta == pytest.approx((15 - 5) / 100)
    assert effect.p_value == pytest.approx(mcnemar([[40, 5], [15, 40]], exact=True).pvalue)
    assert effect.p_value == pytest.approx(scipy_stats.binomtest(5, 20, 0.5).pvalue)  # exact McNemar = binomial
    # the multinomial bootstrap is the item bootstrap: compare with resampling items directly
    rng = np.random.default_rng(1)
    index = rng.integers(0, 100, size=(20000, 100))
    brute = (s[index] - b[index]).mean(axis=1)
    assert effect.ci_low == pytest.approx(np.quantile(brute, 0.025), abs=0.011)
    assert effect.ci_high == pytest.approx(np.quantile(brute, 0.975), abs=0.011)
    same = paired_binary(b, b, np.random.default_rng(0))
    assert same.p_value == 1.0 and same.ci_low < 0 < same.ci_high  # no disagreement is not certainty


def test_equal_pairs_get_equal_intervals_whatever_else_the_run_holds() -> None:
    """A pooled set with the same items as another showed another interval, and adding a vector to a run moved
    every other cell's: the bootstrap drew from one generator in sequence. Now the seed and the pairs fix it."""
    b, s = _pairs(40, 5, 15, 40)
    rng = np.random.default_rng(3)
    first = paired_binary(b, s, rng)
    rng.random(1000)
    paired_binary(*_pairs(10, 20, 30, 40), rng)  # other cells analysed in between
    assert paired_binary(b, s, rng) == first
    assert paired_binary(b[::-1], s[::-1], rng) == first, "the same pairs in another order (a pooled set)"
    assert len({paired_binary(b, s, np.random.default_rng(k)).ci_low for k in range(6)}) > 1, "the seed counts"


def test_few_disagreements_use_the_agresti_min_interval() -> None:
    b, s = _pairs(30, 0, 2, 4)  # 2 of 36 pairs disagree
    effect = paired_binary(b, s, np.random.default_rng(0))
    total, p01, p10 = 38, 2.5 / 38, 0.5 / 38
    se = np.sqrt((p01 + p10 - (p01 - p10) ** 2) / total)
    assert (effect.ci_low, effect.ci_high) == pytest.approx(
        (p01 - p10 - 1.959964 * se, p01 - p10 + 1.959964 * se), abs=1e-6
    )


def test_propensity_effect_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    b = rng.normal(0, 1, 80)
    s = b + rng.normal(0.3, 1, 80)
    effect = paired_continuous(b, s)
    assert effect.delta == pytest.approx((s - b).mean())
    assert effect.p_value == pytest.approx(scipy_stats.ttest_1samp(s - b, 0.0).pvalue)
    t_low, t_high = scipy_stats.t.interval(0.95, 79, loc=(s - b).mean(), scale=scipy_stats.sem(s - b))
    assert (effect.ci_low, effect.ci_high) == pytest.approx((t_low, t_high))


def test_a_graded_effect_is_significant_only_where_its_mean_interval_excludes_zero() -> None:
    """80% of prompts lose 0.1 and 20% gain 0.5: the mean moves +0.02 (interval across 0), the median -0.1. A
    rank test called that significant (p ~ 1e-4), and the verdict took its direction from the mean: 'helps'."""
    rng = np.random.default_rng(0)
    b = rng.uniform(0.3, 0.7, 200)
    s = b + np.where(np.arange(200) % 5 == 0, 0.5, -0.1)
    effect = paired_continuous(b, s)
    assert effect.delta == pytest.approx(0.02)
    assert effect.ci_low < 0 < effect.ci_high and effect.p_value > 0.05
    # judge-like changes on three values whose mean is 0 (-0.5 a fifth of the time, +0.25 two fifths): the
    # rank test rejected in 27% of such runs at n=400; the test of the mean holds its 5%
    rejections = sum(
        paired_continuous(np.zeros(400), np.random.default_rng(draw).choice([-0.5, 0, 0, 0.25, 0.25], 400)).p_value
        < 0.05
        for draw in range(400)
    )
    assert rejections / 400 < 0.08, rejections
    # every pair moving alike: the exact sign test, not an infinite t
    assert paired_continuous(np.zeros(8), np.full(8, 0.25)).p_value == pytest.approx(2 * 0.5**8)


def test_non_inferiority_and_power_match_references() -> None:
    b, s = _pairs(50, 6, 4, 40)
    expected = scipy_stats.ttest_1samp(s - b, -0.01, alternative="greater").pvalue
    assert non_inferiority_p(b, s, 0.01) == pytest.approx(expected)
    # every pair agreeing is no proof on 10 items (0.99^10 of seeing no loss even at a 1-point loss rate),
    # but is on 1000; the bound is the exact binomial one
    assert non_inferiority_p(np.ones(10), np.ones(10), 0.01) == pytest.approx(0.99**10)
    assert non_inferiority_p(np.ones(1000), np.ones(1000), 0.01) == pytest.approx(0.99**1000)
    assert 0.99**1000 < 0.05
    assert non_inferiority_p(np.ones(20), np.zeros(20), 0.01) == 1.0
    d = s - b
    expected_mde = TTestPower().solve_power(nobs=100, alpha=0.05, power=0.8) * d.std(ddof=1)
    assert minimum_detectable_effect(b, s, 0.05) == pytest.approx(expected_mde)


def _null_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    b = (rng.random(n) < 0.6).astype(float)
    flip = rng.random(n) < 0.15  # answers change, but not in one direction more than the other
    s = np.where(flip, rng.random(n) < 0.6, b).astype(float)
    return b, s


def test_calibration_under_no_effect() -> None:
    rng = np.random.default_rng(11)
    simulations = 1000
    rejections = sum(paired_binary(*_null_pair(rng, 200), rng, n_boot=200).p_value < 0.05 for _ in range(simulations))
    monte_carlo = 3 * np.sqrt(0.05 * 0.95 / simulations)
    assert rejections / simulations <= 0.05 + monte_carlo


def test_holm_keeps_the_family_wise_error_rate() -> None:
    rng = np.random.default_rng(12)
    runs, cells = 300, 10
    any_rejection = 0
    # statsmodels' Holm runs gc.collect() on every call, which late in a test session scans everything the
    # session holds (0.3 s a call here); frozen objects are skipped, so the 300 calls cost what they should
    gc.freeze()
    try:
        for _ in range(runs):
            pvalues = [paired_binary(*_null_pair(rng, 150), rng, n_boot=100).p_value for _ in range(cells)]
            any_rejection += bool(multipletests(pvalues, alpha=0.05, method="holm")[0].any())
    finally:
        gc.unfreeze()
    assert any_rejection / runs <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


def test_intervals_cover_a_known_effect() -> None:
    rng = np.random.default_rng(13)
    true_delta, n, simulations = 0.06, 300, 1000
    covered = 0
    for _ in range(simulations):
        b = (rng.random(n) < 0.5).astype(float)
        # flips up with probability 0.16 from 0, down with 0.04 from 1: expected delta 0.5 * (0.16 - 0.04)
        up = (b == 0) & (rng.random(n) < 0.16)
        down = (b == 1) & (rng.random(n) < 0.04)
        s = b.copy()
        s[up], s[down] = 1, 0
        effect = paired_binary(b, s, rng, n_boot=1000)
        covered += effect.ci_low <= true_delta <= effect.ci_high
    assert covered / simulations >= 0.93


@pytest.mark.parametrize("n", [40, 120, 168])
def test_the_minimum_detectable_effect_is_a_number_at_every_size(n: int) -> None:
    """statsmodels' solver returns a 1-element array for some sizes (120 items among them): still one number."""
    rng = np.random.default_rng(n)
    b, s = (rng.random(n) < 0.5).astype(float), (rng.random(n) < 0.6).astype(float)
    mde = minimum_detectable_effect(b, s, 0.05)
    expected = float(np.asarray(TTestPower().solve_power(nobs=n, alpha=0.05, power=0.8)).reshape(-1)[0])
    assert isinstance(mde, float) and mde == pytest.approx(expected * (s - b).std(ddof=1))
