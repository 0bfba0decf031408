"""`steer-eval demo`: the embedded demo end to end, no GPU and no network. Builds (or reuses) the demo
model; builds a vector per planted behaviour with CAA and the PAS family (layers 1-3, layer and strength
chosen on the validation split) plus the same-norm random controls; runs the grid of strengths over every
demo task's test split through the runner; writes the run folder and prints where it is and what moved."""

from __future__ import annotations

from pathlib import Path

from steer_eval.demo.cache import demo_model_dir
from steer_eval.demo.model import DemoRecipe

METHODS = ("caa", "pasf", "ipasa", "ipaswo")
BEHAVIOUR_TASKS = ("demo_sentiment", "demo_sycophancy")
ALPHAS = (-2.0, -1.0, 1.0, 2.0, 4.0)
SELECTION_STRENGTHS = (0.5, 1.0, 2.0, 4.0)
LAYERS = (1, 2, 3)


def build_demo_vectors(model_dir: Path, output: Path, progress: bool = True) -> list[Path]:
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
    jobs = [(task, method) for task in BEHAVIOUR_TASKS for method in METHODS]
    bar = tqdm(jobs, desc="Building and selecting the demo vectors", unit="vector", disable=not progress)
    for task, method in bar:
        bar.set_postfix_str(f"{method} on {task}", refresh=False)
        train, validation = splits[task]
        path = output / "vectors" / f"{task.removeprefix('demo_')}-{method}.safetensors"
        try:
            vector = build_vector(model, tokenizer, BuildSpec(method, task, LAYERS, batch_size=32), train, "demo")
        except SteerEvalError as exc:  # e.g. a PAS variant when the model answers every item alike
            bar.write(f"skipped {method} on {task}: {exc}")
            continue
        select_on_validation(model, tokenizer, vector, validation, SELECTION_STRENGTHS, batch_size=32)
        paths.append(save_vector(vector, path))
    return paths


def run_demo(output: Path, rebuild: bool = False, progress: bool = True):
    from steer_eval.run.config import RunConfig
    from steer_eval.run.main import run

    model_dir = demo_model_dir(DemoRecipe(), rebuild=rebuild, progress=progress)
    vectors = build_demo_vectors(model_dir, output, progress)
    config = RunConfig(
        model="demo",
        vectors=vectors,
        tasks=["demo"],
        alphas=list(ALPHAS),
        controls=["random"],
        batch_size="64",
        device="cpu",
        output=output / "run",
        command=f"steer-eval demo --output {output}",
    )
    return run(config, progress=progress)
