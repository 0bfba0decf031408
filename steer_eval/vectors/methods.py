"""What each vector-building method reads and how it turns the readings into a vector (METHODS.md).
Only train-split items are read. Per method: positives / negatives; where read; the vector; where applied.

- caa: prompt + desired answer letter / prompt + each opposite letter (pairs); the answer-letter token at
  the site's output of layer L; the mean difference; the positions after the instruction (`generated`).
- pca: as caa; the first (uncentred) principal component of the pair differences, sign-aligned with the
  mean difference and scaled to the mean difference's projection on it.
- pasf: full MCQ prompts the model answers right / wrong (unpaired); the last prompt token at block L's
  INPUT (HF hidden_states[L]); mean(pos) - mean(neg), written at block L's output, last prompt token only.
- ipasa: question + correct answer text (items it got right) / question + its own wrong answer text
  (items it got wrong); the last token, block input; as pasf.
- ipaswo: only the items it got wrong, as pairs (correct text, its wrong text); as ipasa.
- austeer: as caa, at every layer; per unit, the momentum beta; the top-k units across all layers;
  a <- a + alpha * beta * a at all positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steer_eval.errors import SteerEvalError
from steer_eval.vectors.contrast import ContrastStats
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Action, PositionMode, Site


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    paired: bool
    action: Action = Action.ADD
    positions: PositionMode = PositionMode.GENERATED
    read_positions: str = "answer_letter"
    block_input: bool = False  # PAS reads h_L (block input) and writes at block L's output
    needs_predictions: bool = False
    keeps_differences: bool = False
    per_layer: bool = True  # False: the layers' tensors act together
    sites: tuple[Site, ...] = (Site.RESID, Site.MLP, Site.ATTN)

    @property
    def read_site(self) -> str:
        return (
            "resid_pre (block input, HF hidden_states[L]); written at block L's output"
            if self.block_input
            else "site output"
        )


_PAS = dict(positions=PositionMode.LAST_PROMPT, read_positions="last_token", block_input=True, sites=(Site.RESID,))
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("caa", "contrastive activation addition: mean difference of answer-letter activations", paired=True),
        Method("pca", "first principal component of the CAA pair differences", paired=True, keeps_differences=True),
        Method(
            "pasf",
            "PAS full MCQ: prompts the model answers right minus prompts it answers wrong",
            paired=False,
            needs_predictions=True,
            **_PAS,
        ),
        Method(
            "ipasa",
            "introspective PAS, all items: correct answer text vs the model's own wrong answer text",
            paired=False,
            needs_predictions=True,
            **_PAS,
        ),
        Method(
            "ipaswo",
            "introspective PAS, wrong items only: correct vs the model's own wrong answer text",
            paired=True,
            needs_predictions=True,
            **_PAS,
        ),
        Method(
            "austeer",
            "atomic units: top-k units across all layers by momentum, adaptive scaling",
            paired=True,
            action=Action.AU_SCALE,
            positions=PositionMode.ALL,
            per_layer=False,
            sites=(Site.RESID, Site.MLP, Site.HEAD),
        ),
    )
}
RANDOM = "random"
ALL_METHODS = (*METHODS, RANDOM)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise SteerEvalError(f"unknown method {name!r}; methods are {', '.join(ALL_METHODS)}")
    return METHODS[name]


def principal_direction(stats: ContrastStats, where: str = "") -> torch.Tensor:
    """First principal component of the pair differences, uncentred (equivalently: of the differences and
    their negatives, as the steering-vectors package does; centring would remove the direction the pairs
    share and leave, on A/B-balanced data, the answer-letter axis). Sign-aligned with the mean difference
    and scaled to its projection, so its strength is comparable to the CAA vector's."""
    if not stats.differences:
        raise SteerEvalError("PCA needs the per-pair differences; none were recorded")
    diffs = torch.cat(stats.differences).double()
    if diffs.shape[0] < 2:
        raise SteerEvalError("PCA needs at least 2 pairs")
    _, singular, vh = torch.linalg.svd(diffs, full_matrices=False)
    if float(singular[0]) <= 1e-12 * max(1.0, float(diffs.abs().max())):
        raise SteerEvalError(f"every pair difference is zero{where}; there is no principal direction to take")
    component = vh[0]
    projection = float(component @ stats.mean_difference())
    if projection < 0:
        component, projection = -component, -projection
    return component * projection


def top_units(all_stats: dict[SiteKey, ContrastStats], k: int) -> dict[SiteKey, torch.Tensor]:
    """AUSteer selection: rank every unit of every key by |momentum| (ties: by |standardised mean
    difference|, then layer and index) and keep the top k; each kept unit carries its signed momentum."""
    if k < 1:
        raise SteerEvalError(f"--top-k must be at least 1 (got {k})")
    candidates = []
    for order, key in enumerate(sorted(all_stats)):
        stats = all_stats[key]
        beta = stats.momentum()
        tie = stats.standardized_difference().abs()
        for index in torch.nonzero(beta).flatten().tolist():
            candidates.append((-abs(float(beta[index])), -float(tie[index]), order, index, key, float(beta[index])))
    if not candidates:
        raise SteerEvalError("no unit has a majority direction over the pairs; AUSteer found nothing to steer")
    candidates.sort(key=lambda c: c[:4])
    chosen: dict[SiteKey, torch.Tensor] = {}
    for *_, index, key, beta in candidates[:k]:
        chosen.setdefault(key, torch.zeros(all_stats[key].width))[index] = beta
    return chosen
