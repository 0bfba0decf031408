"""`steer-eval demo`: the embedded demo end to end, no GPU and no network. Builds (or reuses) the demo
model; builds a vector per planted behaviour with CAA and the PAS family (layer and strength chosen on the
validation split), the world's own planted vectors (the reference), the letter-only vector (the artifact the
option-order control must catch) and the same-norm random controls; runs the grid over every demo task's
test split through the runner (the lettered task under both option orders); writes the run folder and prints
what moved, and how the verdicts compare with the world's known truth (ground_truth.py); then the same
recipes on two demo models side by side and the demo's vectors transferred to a third (study.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from steer_eval.demo.cache import demo_model_dir
from steer_eval.demo.ground_truth import residual_norms, truth_table
from steer_eval.demo.ground_truth import summary as truth_summary
from steer_eval.demo.model import DemoRecipe
from steer_eval.demo.study import DemoStudy, run_demo_study
from steer_eval.demo.world import COLOURS, FOODS, NUMBERS, PLACES, REPLY_WORDS
from steer_eval.run.main import RunResult
from steer_eval.vectors.format import SteeringVector

METHODS = ("caa", "pasf", "ipasa", "ipaswo")
BEHAVIOUR_TASKS = ("demo_sentiment", "demo_sycophancy")
PLANTED_TASKS = {"mood": "demo_sentiment", "style": "demo_sycophancy"}
LETTER_TASK = "demo_sentiment_mc"  # the lettered task: where a letter-only vector looks like a gain
LETTER_VECTOR = "letter-a.safetensors"
PLANTED_VECTORS = {"mood": "planted-mood.safetensors", "style": "planted-style.safetensors"}
PLANTED_UNIT = 3.0  # planted scales per direction that the world's own vectors push at strength 1
ALPHAS = (-1.0, 1.0, 2.0)  # and each vector's selected strength; docs/demo.md names what each shows
SELECTION_STRENGTHS = (0.5, 1.0)
LAYERS = (1, 2)
OPTION_ORDERS = 2


LETTER_GAP = 4.0  # nats: how far the letter vector at strength 1 moves answer A's log-odds against B
OTHER_ANSWERS = (*REPLY_WORDS, *COLOURS, *PLACES, *FOODS, *NUMBERS, "yes", "no")  # the letter vector leaves these be


def letter_vector(model, tokenizer) -> SteeringVector:
    """The planted artifact: a vector at the last block, on the last prompt token, that only raises answer
    letter A against B. It is the difference of the two letters' unembedding rows as the final norm sees
    them, with the directions that move any other demo task's answers projected out (so it changes no other
    answer's log-odds), scaled so strength 1 moves A's log-odds against B by LETTER_GAP nats at the model's
    typical residual norm there. It carries nothing of either disposition: any gain it shows is the letter's."""
    from steer_eval.steering.model_map import ModelMap
    from steer_eval.vectors.format import SiteKey, VectorMeta
    from steer_eval.vocab import PositionMode, Site

    last = ModelMap.of(model).n_layers - 1
    unembed = model.get_output_embeddings().weight.detach().float()
    gain = model.model.norm.weight.detach().float()
    a, b = tokenizer.convert_tokens_to_ids(["A", "B"])
    others = gain * unembed[tokenizer.convert_tokens_to_ids(list(OTHER_ANSWERS))]  # what they read of the residual
    basis, _ = torch.linalg.qr(others.T.double())
    wanted = (gain * (unembed[a] - unembed[b])).double()
    direction = (wanted - basis @ (basis.T @ wanted)).float()
    direction = direction / direction.norm()
    rms = residual_norms(model, tokenizer, (last,))[last] / math.sqrt(direction.numel())
    scale = LETTER_GAP * rms / float(wanted.float() @ direction)
    meta = VectorMeta(
        method="letter",
        model_name="demo",
        hidden_size=direction.numel(),
        positions=PositionMode.LAST_PROMPT,
        per_layer=True,
        default_layer=last,
        default_alpha=1.0,
        read_site="the unembedding rows of answer letters A and B (not read from activations)",
        extra={"task": LETTER_TASK, "planted": "letter-only: raises answer letter A against B, nothing else"},
    )
    return SteeringVector({SiteKey(Site.RESID, last): direction * scale}, meta)


@dataclass
class DemoResult:
    run: RunResult
    truth: pd.DataFrame  # ground_truth.truth_table: the verdict each cell's construction implies, beside the run's
    truth_summary: str
    study: DemoStudy | None = None  # across models, and transferred (study.py)


def planted_vector(behaviour: str, recipe: DemoRecipe) -> SteeringVector:
    """The world's own direction for a disposition, as a vector file: at strength 1 it pushes every one of the
    disposition's planted directions PLANTED_UNIT scales, and has nothing outside them. Its effect is what the
    construction fixes, so it is the reference the built vectors are read against (ground_truth.py)."""
    from steer_eval.demo.model import demo_name, planted_axis
    from steer_eval.vectors.format import SiteKey, VectorMeta
    from steer_eval.vocab import PositionMode, Site

    layer = recipe.planted_layers[0]
    push = planted_axis(recipe, behaviour) * PLANTED_UNIT * recipe.planted_scale * recipe.planted_width**0.5
    meta = VectorMeta(
        method="planted",
        model_name=demo_name(recipe),
        hidden_size=recipe.hidden_size,
        positions=PositionMode.LAST_PROMPT,
        per_layer=True,
        default_layer=layer,
        read_site="the demo model's planted directions (model.py), not read from activations",
        extra={
            "task": PLANTED_TASKS[behaviour],
            "planted": f"{PLANTED_UNIT:g} planted scales along every {behaviour} direction at strength 1",
        },
    )
    return SteeringVector({SiteKey(Site.RESID, layer): push}, meta)


def build_demo_vectors(model_dir: Path, output: Path, progress: bool = True) -> tuple[list[Path], dict[int, float]]:
    """The demo's vectors (built, selected on validation and saved) and the model's residual norms (what the
    known truth's robustness bounds are relative to)."""
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steer_eval.errors import SteerEvalError
    from steer_eval.tasks import load_split
    from steer_eval.vectors.build import BuildSpec, build_vector
    from steer_eval.vectors.format import save_vector
    from steer_eval.vectors.select import select_on_validation

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    paths = []
    splits = {task: (load_split(task, "train"), load_split(task, "validation")) for task in BEHAVIOUR_TASKS}
    jobs = [(task, method) for task in BEHAVIOUR_TASKS for method in METHODS] + [(LETTER_TASK, "letter")]
    jobs += [(task, f"planted-{behaviour}") for behaviour, task in PLANTED_TASKS.items()]
    bar = tqdm(jobs, desc="Building and selecting the demo vectors", unit="vector", disable=not progress)
    for task, method in bar:
        bar.set_postfix_str(f"{method} on {task}", refresh=False)
        if method == "letter":
            vector, validation = letter_vector(model, tokenizer), load_split(task, "validation")
            path = output / "vectors" / LETTER_VECTOR
        elif method.startswith("planted-"):
            behaviour = method.removeprefix("planted-")
            vector, validation = planted_vector(behaviour, DemoRecipe()), splits[task][1]
            path = output / "vectors" / PLANTED_VECTORS[behaviour]
        else:
            train, validation = splits[task]
            path = output / "vectors" / f"{task.removeprefix('demo_')}-{method}.safetensors"
            try:
                vector = build_vector(model, tokenizer, BuildSpec(method, task, LAYERS, batch_size=32), train, "demo")
            except SteerEvalError as exc:  # e.g. a PAS variant when the model answers every item alike
                bar.write(f"skipped {method} on {task}: {exc}")
                continue
        # selected on the task's validation split as it is distributed (for the letter vector: in its
        # authors' unbalanced order, which is how a letter-only vector gets chosen in practice)
        select_on_validation(model, tokenizer, vector, validation, SELECTION_STRENGTHS, batch_size=32)
        paths.append(save_vector(vector, path))
    return paths, residual_norms(model, tokenizer)


def run_demo(output: Path, rebuild: bool = False, progress: bool = True, with_study: bool = True) -> DemoResult:
    from steer_eval.run.config import RunConfig
    from steer_eval.run.main import run

    model_dir = demo_model_dir(DemoRecipe(), rebuild=rebuild, progress=progress)
    vectors, residual = build_demo_vectors(model_dir, output, progress)
    config = RunConfig(
        model="demo",
        vectors=vectors,
        tasks=["demo"],
        alphas=[*ALPHAS, "selected"],
        # one placebo draw per vector, not the five of `--controls random`: in the demo world a random direction
        # barely moves either behaviour (the planted subspace is 8 of 128 dimensions; tests/test_demo_ground_truth.py),
        # so one draw is representative there, and five would take the demo from 2 to 5 minutes
        controls=["random:1"],
        option_orders=OPTION_ORDERS,
        batch_size="64",
        device="cpu",
        output=output / "run",
        command=f"steer-eval demo --output {output}",
    )
    result = run(config, progress=progress)
    assert isinstance(result, RunResult) and result.analysis is not None
    from steer_eval.demo.pairs import write_pair_vectors

    write_pair_vectors(output / "vectors" / "pairs")  # for the pair study (docs/demo.md "Pairs"); not run here
    table = truth_table(config.output, result.analysis.effects, residual)
    table.to_csv(output / "truth.csv", index=False)
    study = run_demo_study(output, result.analysis.effects, progress) if with_study else None
    return DemoResult(result, table, truth_summary(table), study)
