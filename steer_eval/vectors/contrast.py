"""Running statistics of positive and negative activations at one site key, accumulated batch by batch.

Everything a builder or a diagnostic needs is a running sum, except where a method needs the items
themselves: PCA keeps the per-pair differences, and the separation diagnostic keeps a fixed-size random
sample (reservoir) of items to project on the finished vector.

- mean difference: sums in float64.
- mean pairwise cosine of the per-pair differences (Braun et al. 2025): with unit differences u_i,
  sum_{i != j} u_i . u_j = |sum u_i|^2 - n, so a running sum of unit vectors gives it exactly (over the
  n differences that are not zero: a zero difference has no direction).
- AUSteer momentum: per unit, counts of pairs with positive > negative and positive < negative.
"""

from __future__ import annotations

import math
import random

import torch
from scipy import stats

SAMPLE_CAP = 512  # items per class kept for the separation diagnostic


class ContrastStats:
    def __init__(self, width: int, keep_differences: bool = False, sample_cap: int = SAMPLE_CAP, seed: int = 0):
        self.width = width
        self.n_pos = self.n_neg = self.n_pairs = 0
        self.sum_pos = torch.zeros(width, dtype=torch.float64)
        self.sum_neg = torch.zeros(width, dtype=torch.float64)
        self.sum_unit_diff = torch.zeros(width, dtype=torch.float64)
        self.n_nonzero_diffs = 0  # pairs whose difference is not exactly zero (those have a direction)
        self.sum_sq_diff = torch.zeros(width, dtype=torch.float64)
        self.count_greater = torch.zeros(width, dtype=torch.long)
        self.count_less = torch.zeros(width, dtype=torch.long)
        self.differences: list[torch.Tensor] | None = [] if keep_differences else None
        self._cap = sample_cap
        self._rng = random.Random(seed)
        self._sample_pos: list[torch.Tensor] = []
        self._sample_neg: list[torch.Tensor] = []
        self._seen_pos = self._seen_neg = 0

    # ---- accumulation ------------------------------------------------------------------------------

    def add_pairs(self, positive: torch.Tensor, negative: torch.Tensor) -> None:
        """Rows of `positive` and `negative` are pairs (same item, desired vs opposite answer)."""
        diff = positive.double() - negative.double()
        self.n_pairs += diff.shape[0]
        norms = diff.norm(dim=1, keepdim=True)
        self.n_nonzero_diffs += int((norms > 0).sum())
        self.sum_unit_diff += (diff / norms.clamp_min(1e-30)).sum(dim=0)  # zero differences add nothing
        self.sum_sq_diff += (diff**2).sum(dim=0)
        self.count_greater += (diff > 0).sum(dim=0)
        self.count_less += (diff < 0).sum(dim=0)
        if self.differences is not None:
            self.differences.append(diff.float())
        self._add(positive, True, paired_with=negative)

    def add(self, activations: torch.Tensor, positive: bool) -> None:
        """Unpaired activations of one class (PASf, iPASa)."""
        self._add(activations, positive)

    def _add(self, activations: torch.Tensor, positive: bool, paired_with: torch.Tensor | None = None) -> None:
        if positive:
            self.n_pos += activations.shape[0]
            self.sum_pos += activations.double().sum(dim=0)
        else:
            self.n_neg += activations.shape[0]
            self.sum_neg += activations.double().sum(dim=0)
        if paired_with is not None:
            self.n_neg += paired_with.shape[0]
            self.sum_neg += paired_with.double().sum(dim=0)
            for pos_row, neg_row in zip(activations, paired_with, strict=True):
                slot = self._reservoir_slot(True)
                if slot is not None:
                    self._put(self._sample_pos, slot, pos_row)
                    self._put(self._sample_neg, slot, neg_row)
            return
        sample = self._sample_pos if positive else self._sample_neg
        for row in activations:
            slot = self._reservoir_slot(positive)
            if slot is not None:
                self._put(sample, slot, row)

    def _reservoir_slot(self, positive: bool) -> int | None:
        seen = self._seen_pos if positive else self._seen_neg
        slot = seen if seen < self._cap else self._rng.randrange(seen + 1)
        if positive:
            self._seen_pos += 1
        else:
            self._seen_neg += 1
        return slot if slot < self._cap else None

    @staticmethod
    def _put(sample: list[torch.Tensor], slot: int, row: torch.Tensor) -> None:
        row = row.detach().float().clone()
        if slot == len(sample):
            sample.append(row)
        else:
            sample[slot] = row

    # ---- results -----------------------------------------------------------------------------------

    @property
    def paired(self) -> bool:
        return self.n_pairs > 0

    def mean_positive(self) -> torch.Tensor:
        return self.sum_pos / self.n_pos

    def mean_negative(self) -> torch.Tensor:
        return self.sum_neg / self.n_neg

    def mean_difference(self) -> torch.Tensor:
        """mean(positive) - mean(negative), float64 (equals the mean of the pair differences when paired)."""
        return self.mean_positive() - self.mean_negative()

    def mean_pairwise_cosine(self) -> float | None:
        """Mean cosine over pairs of pair differences that have a direction (a zero difference has none)."""
        n = self.n_nonzero_diffs
        if n < 2:
            return None
        return float((self.sum_unit_diff.dot(self.sum_unit_diff) - n) / (n * (n - 1)))

    def momentum(self) -> torch.Tensor:
        """AUSteer's beta per unit: max(#greater, #less) / N, signed by the majority; 0 on a tie."""
        greater, less = self.count_greater.double(), self.count_less.double()
        beta = torch.maximum(greater, less) / self.n_pairs
        return torch.where(greater > less, beta, torch.where(less > greater, -beta, torch.zeros_like(beta)))

    def standardized_difference(self) -> torch.Tensor:
        """Mean pair difference over its root mean square, per unit (a tie-breaker between equal momenta)."""
        rms = (self.sum_sq_diff / self.n_pairs).sqrt()
        return self.mean_difference() / rms.clamp_min(1e-30)

    def separation(self, direction: torch.Tensor) -> dict[str, float | int | None]:
        """How well the vector's direction separates positives from negatives (Braun et al. 2025), on the
        sampled items: d' of the projections, and the share of pairs (or, unpaired, of all positive x
        negative combinations: the AUC) where the positive projects further along the vector."""
        if not self._sample_pos or not self._sample_neg or not bool(direction.any()):
            return {"d_prime": None, "ordered_share": None, "sampled": 0}
        unit = direction.double() / direction.double().norm().clamp_min(1e-30)
        pos = torch.stack(self._sample_pos).double() @ unit
        neg = torch.stack(self._sample_neg).double() @ unit
        pooled = math.sqrt((float(pos.var(unbiased=False)) + float(neg.var(unbiased=False))) / 2)
        d_prime = float(pos.mean() - neg.mean()) / pooled if pooled > 0 else None
        if self.paired:
            ordered = float((pos > neg).double().mean())
        else:
            u = stats.mannwhitneyu(pos.numpy(), neg.numpy(), alternative="two-sided").statistic
            ordered = float(u) / (len(pos) * len(neg))
        return {"d_prime": d_prime, "ordered_share": ordered, "sampled": min(len(pos), len(neg))}
