"""The paired tests and intervals, one cell at a time. Items are the unit: the steered and the baseline
answer of the same item form a pair.

- accuracy (0/1 per item): delta = (n01 - n10) / n; interval: a seeded paired bootstrap, drawn as
  multinomial counts of the four (baseline, steered) outcome kinds (the same distribution as resampling
  items, at a fraction of the cost; seeded by the analysis seed and those counts, so equal pairs get equal
  intervals whatever else the run holds), or, when fewer than 10 pairs disagree (the bootstrap would collapse
  to zero width), the Agresti-Min adjusted interval; p-value: exact McNemar (statsmodels).
- propensity (a log-probability margin per item): mean paired difference; t interval of the mean and the
  paired t-test of the mean (statsmodels; the margins are continuous and n is in the tens to thousands), so
  the p-value, the interval and the sign of `delta` speak of the same quantity (a Wilcoxon signed-rank test,
  used before, tests the median shift: on skewed or few-valued scores it could call a cell significant
  whose mean interval held 0); the exact sign test where every pair moved by the same amount.
- graded scores (a judge's rating of generated text): as propensity; `paired_effect` picks per measure.
- non-inferiority: one-sided paired t-test of H0 delta <= -margin (statsmodels); when every pair
  differs alike (no spread) the exact binomial bound on the losses instead.
- minimum detectable effect: the paired difference detectable with 80% power at the test level
  (statsmodels TTestPower), from the observed standard deviation of the paired differences.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import DescrStatsW

CORRECTIONS = {"holm": "holm", "bh": "fdr_bh"}  # --correction -> statsmodels' multipletests method
FEW_DISCORDANT = 10  # below this many disagreeing pairs the interval is Agresti-Min, not the bootstrap


@dataclass(frozen=True)
class PairedEffect:
    n: int
    baseline: float
    steered: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


def paired_binary(
    baseline: np.ndarray, steered: np.ndarray, rng: np.random.Generator, n_boot: int = 2000, level: float = 0.95
) -> PairedEffect:
    b, s = baseline.astype(bool), steered.astype(bool)
    n = len(b)
    n11 = int((b & s).sum())
    n10 = int((b & ~s).sum())
    n01 = int((~b & s).sum())
    n00 = n - n11 - n10 - n01
    delta = (n01 - n10) / n
    if n01 + n10 < FEW_DISCORDANT:
        low, high = agresti_min_interval(n10, n01, n, level)
    else:
        counts = _draws(rng, (n11, n10, n01, n00, n_boot)).multinomial(
            n, np.array([n11, n10, n01, n00]) / n, size=n_boot
        )
        boot = (counts[:, 2] - counts[:, 1]) / n
        low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    p = 1.0 if n01 + n10 == 0 else float(mcnemar([[n11, n10], [n01, n00]], exact=True).pvalue)
    return PairedEffect(n, b.mean(), s.mean(), delta, float(low), float(high), p)


def _draws(rng: np.random.Generator, counts: tuple[int, ...]) -> np.random.Generator:
    """The bootstrap's generator: the analysis seed (`rng`'s) and the pairs' counts fix its draws, so the same
    pairs get the same interval wherever they are analysed (a cell; a pooled set holding the same items), and
    the cells a run adds leave the others' intervals as they were."""
    entropy = rng.bit_generator.seed_seq.entropy
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=counts))


def agresti_min_interval(n10: int, n01: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wald interval for a paired difference of proportions with 0.5 added to each cell (Agresti & Min
    2005). Used when few pairs disagree: the bootstrap then collapses (no disagreement, zero width)."""
    total = n + 2
    p01, p10 = (n01 + 0.5) / total, (n10 + 0.5) / total
    diff = p01 - p10
    se = math.sqrt(max(p01 + p10 - diff**2, 0.0) / total)
    z = scipy_stats.norm.ppf((1 + level) / 2)
    return max(-1.0, diff - z * se), min(1.0, diff + z * se)


def paired_continuous(baseline: np.ndarray, steered: np.ndarray, level: float = 0.95) -> PairedEffect:
    diff = steered - baseline
    n = len(diff)
    if n > 1 and float(diff.std()) > 0:
        low, high = DescrStatsW(diff).tconfint_mean(alpha=1 - level)
    else:
        low = high = float(diff.mean())
    if np.allclose(diff, 0):
        p = 1.0
    elif n < 2 or np.allclose(diff, diff[0]):
        # no spread: a t statistic would be infinite; the exact sign test counts the pairs that moved alike
        p = float(scipy_stats.binomtest(int((diff > 0).sum()), int((diff != 0).sum())).pvalue)
    else:
        # the test of the mean itself: the interval and `delta` are about the mean, and a rank test (Wilcoxon)
        # asks about another quantity, which on skewed or few-valued ratings can be significant in the
        # opposite direction to the mean, or reject ever more often as n grows when the mean does not move
        p = float(DescrStatsW(diff).ttest_mean(0.0)[1])
    return PairedEffect(
        n, float(baseline.mean()), float(steered.mean()), float(diff.mean()), float(low), float(high), p
    )


def is_binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def paired_effect(
    baseline: np.ndarray, steered: np.ndarray, rng: np.random.Generator, n_boot: int = 2000, level: float = 0.95
) -> PairedEffect:
    """The paired test a measure calls for: McNemar and the paired bootstrap for 0/1 outcomes (accuracy, a
    rule scorer's verdicts), the t interval and paired t-test for graded ones (a judge's rating)."""
    if is_binary(baseline) and is_binary(steered):
        return paired_binary(baseline, steered, rng, n_boot, level)
    return paired_continuous(baseline, steered, level)


def non_inferiority_p(baseline: np.ndarray, steered: np.ndarray, margin: float) -> float:
    """p-value of H0: mean(steered - baseline) <= -margin against H1: it is above (not worse by the margin)."""
    diff = steered.astype(float) - baseline.astype(float)
    if np.allclose(diff, diff[0]):
        # No spread, so the t-test degenerates (it would call 5 agreeing items proof). Exact bound instead:
        # under H0 items are lost at a rate of at least `margin`, so seeing this few losses has probability
        # at most P(Binomial(n, margin) <= losses).
        losses = int((diff < 0).sum())
        return float(scipy_stats.binom.cdf(losses, len(diff), margin)) if margin > 0 else 1.0
    return float(DescrStatsW(diff).ttest_mean(value=-margin, alternative="larger")[1])


def minimum_detectable_effect(baseline: np.ndarray, steered: np.ndarray, alpha: float, power: float = 0.8) -> float:
    """The paired mean difference a two-sided paired t-test detects with `power`, given the observed spread
    of the differences (or, when every pair agrees, the spread a binomial baseline implies)."""
    n = len(baseline)
    if n < 3:
        return math.inf
    diff = steered.astype(float) - baseline.astype(float)
    sd = float(diff.std(ddof=1))
    if sd == 0:
        p = float(np.clip(baseline.mean(), 1 / n, 1 - 1 / n))
        sd = math.sqrt(p * (1 - p))
    return float(_standardised_effect(n, alpha, power) * sd)


@functools.lru_cache(maxsize=256)
def _standardised_effect(n: int, alpha: float, power: float) -> float:
    # statsmodels returns a 1-element array for some n (120 among them) and a float for others
    solved = TTestPower().solve_power(nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return float(np.asarray(solved).reshape(-1)[0])


def adjusted(pvalues: list[float], correction: str, alpha: float) -> np.ndarray:
    """p-values adjusted over one family: Holm (family-wise) or Benjamini-Hochberg (false discovery rate)."""
    return multipletests(pvalues, alpha=alpha, method=CORRECTIONS[correction])[1]
