"""The demo's ground truth, measured with the steering engine directly (before the runner and the
analysis exist): mean-difference vectors from tagged prompt pairs, their dose-response on the behaviour
tasks, their effect on the capability tasks, and same-norm random vectors as placebo.

`GROUND_TRUTH` states what must come out; tests/test_demo_ground_truth.py asserts it, and
`steer-eval demo` prints the same measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from lm_eval.api.instance import Instance

from steer_eval.demo.tasks import DEMO_TASKS, demo_splits
from steer_eval.demo.world import World
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.vectors.capture import mean_difference
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vocab import Site

STEERING_LAYER = 2  # of 4: the output of the third block, a middle layer
BEHAVIOURS = {"sentiment": "demo_sentiment", "sycophancy": "demo_sycophancy"}
GROUND_TRUTH = """\
- a mean-difference vector from tagged prompt pairs (train split, last prompt token, layer 2) moves its behaviour
  task's propensity up, monotonically over strengths 0.5, 1, 2, and down for strengths -0.5, -1;
- it does not improve the capability tasks (demo_facts, demo_compare) and at strength 8 it hurts them;
- a random vector of the same norm moves the behaviour propensity by much less (placebo).
"""


@dataclass(frozen=True)
class TaskScore:
    """Mean propensity (log-prob of the desired/correct answer minus the best other) and accuracy."""

    propensity: float
    accuracy: float
    n: int


def score_task(lm: SteerEvalLM, task: str, split: str = "test", world_seed: int = 0, prefix: str = "") -> TaskScore:
    """Score a demo task's split; `prefix` is prepended to every prompt (e.g. a disposition tag)."""
    items = demo_splits(task, world_seed)[split]
    requests = [
        Instance("loglikelihood", {}, (prefix + it["text"], " " + c), i)
        for i, it in enumerate(items)
        for c in it["choices"]
    ]
    loglikelihoods = iter(ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True))
    margins, correct = [], 0
    for item in items:
        scores = [next(loglikelihoods) for _ in item["choices"]]
        best_other = max(s for i, s in enumerate(scores) if i != item["label"])
        margins.append(scores[item["label"]] - best_other)
        correct += scores[item["label"]] > best_other
    return TaskScore(sum(margins) / len(margins), correct / len(items), len(items))


def behaviour_vector(
    lm: SteerEvalLM, behaviour: str, world_seed: int = 0, layer: int = STEERING_LAYER
) -> SteeringVector:
    """Mean difference of the last-token residual between desired-tag and opposite-tag prompts (train split)."""
    train = demo_splits(BEHAVIOURS[behaviour], world_seed)["train"]
    pairs = World(world_seed).tagged_pairs(behaviour, train)
    direction = mean_difference(lm.model, lm.tokenizer, pairs, [layer])[layer]
    meta = VectorMeta(
        method="mean-difference",
        model_name="demo",
        read_site="resid",
        read_positions="last_prompt",
        extra={"behaviour": behaviour, "pairs": len(pairs), "task": BEHAVIOURS[behaviour], "split": "train"},
    )
    return SteeringVector({SiteKey(Site.RESID, layer): direction}, meta)


def random_like(vector: SteeringVector, seed: int) -> SteeringVector:
    """A seeded random direction with the same per-layer norm (the placebo control)."""
    generator = torch.Generator().manual_seed(seed)
    directions = {}
    for key, tensor in vector.directions.items():
        noise = torch.randn(tensor.numel(), generator=generator)
        directions[key] = noise / noise.norm() * tensor.norm()
    return SteeringVector(directions, VectorMeta(method="random", extra={"seed": seed, "like": vector.meta.method}))


def sweep(
    lm: SteerEvalLM,
    vector: SteeringVector,
    alphas: Sequence[float],
    tasks: Sequence[str] = tuple(DEMO_TASKS),
    world_seed: int = 0,
) -> dict[float, dict[str, TaskScore]]:
    """Score `tasks` with `vector` at each strength (the same loaded model throughout)."""
    results = {}
    for alpha in alphas:
        interventions = [Intervention(key, t, alpha=alpha) for key, t in vector.directions.items()]
        with lm.steering(interventions):
            results[alpha] = {task: score_task(lm, task, world_seed=world_seed) for task in tasks}
    return results
