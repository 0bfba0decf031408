"""The demo world's ground truth, asserted with the steering engine directly (docs/demo.md). Only effects
that held for world seeds 0, 1 and 2 are asserted, with the margins seen there.

Uses the real demo model (built once into the steer-eval cache, about 1.5 minutes on 2 CPU cores)."""

from __future__ import annotations

import pytest

from steer_eval.demo.cache import demo_model_dir
from steer_eval.demo.ground_truth import BEHAVIOURS, behaviour_vector, random_like, score_task, sweep
from steer_eval.demo.world import MOOD_TAGS, STYLE_TAGS
from steer_eval.steering.lm_model import SteerEvalLM

CAPABILITIES = ("demo_facts", "demo_compare")
ALPHAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 8.0)


@pytest.fixture(scope="module")
def lm() -> SteerEvalLM:
    return SteerEvalLM(pretrained=str(demo_model_dir(progress=False)), device="cpu", batch_size=128)


@pytest.fixture(scope="module")
def sweeps(lm: SteerEvalLM) -> dict:
    results = {}
    for behaviour in BEHAVIOURS:
        vector = behaviour_vector(lm, behaviour)
        results[behaviour] = {
            "steered": sweep(lm, vector, ALPHAS),
            "placebo": [sweep(lm, random_like(vector, seed), (1.0,))[1.0] for seed in range(3)],
        }
    return results


def test_capabilities_are_well_above_chance_through_lm_eval(lm: SteerEvalLM) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    from steer_eval.paths import tasks_dir

    out = lm_eval.simple_evaluate(
        model=lm, tasks=["demo"], task_manager=TaskManager(include_path=str(tasks_dir())), verbosity="ERROR"
    )
    accuracy = {task: out["results"][task]["acc,none"] for task in ("demo_facts", "demo_compare")}
    assert min(accuracy.values()) >= 0.8, accuracy  # chance: 0.25 and 0.5


@pytest.mark.parametrize(
    ("behaviour", "tags"), [("sentiment", ("mood", MOOD_TAGS)), ("sycophancy", ("style", STYLE_TAGS))]
)
def test_behaviour_is_undecided_untagged_and_follows_its_tag(lm: SteerEvalLM, behaviour: str, tags: tuple) -> None:
    """Untagged, the desired answer's odds stay within e^2 either way; each tag moves them its own way (the
    desired tag by more than 1 nat; flattery is learnt less well than honesty, so its tag by more than 0.1)."""
    task = BEHAVIOURS[behaviour]
    untagged = score_task(lm, task)
    assert abs(untagged.propensity) < 2.0, untagged
    name, values = tags
    for value, sign, least in ((values[True], 1, 1.0), (values[False], -1, 0.1)):
        moved = score_task(lm, task, prefix=f"{name} : {value} . ").propensity - untagged.propensity
        assert sign * moved > least, f"tag {value!r} moved {behaviour} by {moved:+.2f} nats"


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_vector_moves_its_behaviour_monotonically_both_ways(sweeps: dict, behaviour: str) -> None:
    task = BEHAVIOURS[behaviour]
    curve = {alpha: scores[task].propensity for alpha, scores in sweeps[behaviour]["steered"].items()}
    assert curve[-1.0] < curve[-0.5] < curve[0.0] < curve[0.5] < curve[1.0] < curve[2.0], curve


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_vector_does_not_improve_capabilities_and_large_strengths_hurt(sweeps: dict, behaviour: str) -> None:
    steered = sweeps[behaviour]["steered"]
    for task in CAPABILITIES:
        for alpha in (0.5, 1.0, 2.0):
            assert steered[alpha][task].accuracy <= steered[0.0][task].accuracy + 0.03, (task, alpha)
    drop = sum(steered[0.0][t].accuracy - steered[8.0][t].accuracy for t in CAPABILITIES) / len(CAPABILITIES)
    assert drop >= 0.15, f"strength 8 should hurt the capabilities; mean accuracy drop {drop:.3f}"


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_same_norm_random_vectors_move_the_behaviour_much_less(sweeps: dict, behaviour: str) -> None:
    task = BEHAVIOURS[behaviour]
    baseline = sweeps[behaviour]["steered"][0.0][task].propensity
    effect = sweeps[behaviour]["steered"][1.0][task].propensity - baseline
    placebo = [scores[task].propensity - baseline for scores in sweeps[behaviour]["placebo"]]
    assert effect > 0.3
    assert max(abs(p) for p in placebo) < 0.5 * effect, (effect, placebo)
