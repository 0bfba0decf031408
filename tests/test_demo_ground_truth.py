"""The demo model's planted truth, measured with the steering engine directly (no runner, no analysis):
pushes along the planted directions move their behaviour and nothing else, far pushes make the capabilities
answer at random, and same-norm random pushes do next to nothing. docs/demo.md states these; the harness's
verdicts are checked against them in tests/test_demo_run.py."""

from __future__ import annotations

import pytest
import torch

from steer_eval.demo.cache import demo_model_dir
from steer_eval.demo.ground_truth import HELPS_FROM, HURTS_FROM
from steer_eval.demo.model import DemoRecipe, planted_axis
from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import interventions_from_vector
from steer_eval.tasks import load_split
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
from steer_eval.vectors.select import score_items
from steer_eval.vocab import PositionMode, Site

TASKS = ("demo_sentiment", "demo_sycophancy", "demo_facts", "demo_compare")
BEHAVIOUR_TASK = {"mood": "demo_sentiment", "style": "demo_sycophancy"}


@pytest.fixture(scope="module")
def engine():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = demo_model_dir(progress=False)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    items = {task: load_split(task, "test") for task in TASKS}

    def accuracy(task: str, vector: torch.Tensor | None = None) -> float:
        steerer = None
        if vector is not None:
            steering = SteeringVector({SiteKey(Site.RESID, 1): vector}, VectorMeta(positions=PositionMode.LAST_PROMPT))
            steerer = Steerer(model)
            steerer.set_interventions(interventions_from_vector(steering))
        return score_items(model, tokenizer, items[task], steerer, batch_size=64).accuracy

    return accuracy


def planted_push(behaviour: str, scales: float) -> torch.Tensor:
    """`scales` planted scales along every one of the disposition's directions."""
    recipe = DemoRecipe()
    return planted_axis(recipe, behaviour) * scales * recipe.planted_scale * recipe.planted_width**0.5


def test_capabilities_are_learnt_and_behaviours_sit_between_their_bounds(engine) -> None:
    assert engine("demo_facts") >= 0.9 and engine("demo_compare") >= 0.9  # chance: 0.25 and 0.5
    for task in BEHAVIOUR_TASK.values():  # half the items lean to the desired answer by default
        assert 0.3 < engine(task) < 0.7, task


@pytest.mark.parametrize("behaviour", ["mood", "style"])
def test_a_push_along_the_planted_directions_moves_its_behaviour_and_not_the_other(engine, behaviour) -> None:
    own, other = BEHAVIOUR_TASK[behaviour], BEHAVIOUR_TASK["style" if behaviour == "mood" else "mood"]
    base = {task: engine(task) for task in BEHAVIOUR_TASK.values()}
    up = engine(own, planted_push(behaviour, HELPS_FROM))
    down = engine(own, planted_push(behaviour, -HURTS_FROM))
    assert up - base[own] > 0.25 and base[own] - down > 0.25, (base[own], up, down)
    assert abs(engine(other, planted_push(behaviour, HELPS_FROM)) - base[other]) < 0.03


def test_far_pushes_make_capabilities_answer_at_random_and_calm_ones_do_not(engine) -> None:
    base = engine("demo_facts")
    assert engine("demo_facts", planted_push("mood", 0.5)) >= base - 0.03
    assert engine("demo_facts", planted_push("mood", 4.0)) <= base - 0.3
    assert engine("demo_facts", planted_push("style", -4.0)) <= base - 0.3


def test_same_norm_random_pushes_barely_move_the_behaviours(engine) -> None:
    generator = torch.Generator().manual_seed(0)
    push = planted_push("mood", 2.0)
    base = {task: engine(task) for task in BEHAVIOUR_TASK.values()}
    moves = []
    for _ in range(5):
        noise = torch.randn(push.numel(), generator=generator)
        noise = noise / noise.norm() * push.norm()
        moves += [abs(engine(task, noise) - base[task]) for task in BEHAVIOUR_TASK.values()]
    assert max(moves) < 0.1, moves
