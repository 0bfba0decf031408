"""`steer-eval demo`: the embedded demo end to end, with no GPU and no network. Builds (or reuses) the demo
model, builds a mean-difference vector per planted behaviour from tagged prompt pairs, sweeps strengths
over every demo task's test split next to a same-norm random placebo, and writes the vectors and a JSON of
the measurements. (The full runner, statistics and HTML report arrive with the runner and analysis issues.)"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from steer_eval.demo.cache import demo_model_dir
from steer_eval.demo.ground_truth import BEHAVIOURS, TaskScore, behaviour_vector, random_like, sweep
from steer_eval.demo.model import DemoRecipe
from steer_eval.demo.tasks import DEMO_TASKS
from steer_eval.vectors.format import save_vector

ALPHAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 8.0)
PLACEBO_ALPHAS = (0.5, 1.0)


def run_demo(output: Path, rebuild: bool = False, progress: bool = True) -> dict:
    from steer_eval.steering.lm_model import SteerEvalLM

    directory = demo_model_dir(DemoRecipe(), rebuild=rebuild, progress=progress)
    lm = SteerEvalLM(pretrained=str(directory), device="cpu", batch_size=128)
    output.mkdir(parents=True, exist_ok=True)
    tasks = {name: {"kind": t.kind, "family": t.family, "desired": t.desired} for name, t in DEMO_TASKS.items()}
    results: dict = {"model": str(directory), "tasks": tasks}
    for behaviour in BEHAVIOURS:
        vector = behaviour_vector(lm, behaviour)
        path = save_vector(vector, output / f"{behaviour}.safetensors")
        placebo = random_like(vector, seed=0)
        results[behaviour] = {
            "vector": str(path),
            "steered": _scores(sweep(lm, vector, ALPHAS)),
            "placebo": _scores(sweep(lm, placebo, PLACEBO_ALPHAS)),
        }
    (output / "demo_results.json").write_text(json.dumps(results, indent=2))
    return results


def _scores(by_alpha: dict[float, dict[str, TaskScore]]) -> dict[str, dict[str, dict]]:
    return {str(alpha): {task: asdict(score) for task, score in scores.items()} for alpha, scores in by_alpha.items()}


def render_table(results: dict) -> str:
    """Plain-text summary: accuracy (and mean propensity) per task and strength, per behaviour vector."""
    lines = []
    tasks = list(results["tasks"])
    for behaviour in BEHAVIOURS:
        block = results[behaviour]
        lines.append(f"\n{behaviour} vector ({block['vector']}): accuracy on the test split [mean propensity, nats]")
        lines.append(f"  {'strength':>10} " + " ".join(f"{t:>22}" for t in tasks))
        for label, rows in (("", block["steered"]), ("placebo ", block["placebo"])):
            for alpha, scores in rows.items():
                cells = " ".join(f"{scores[t]['accuracy']:>10.3f} [{scores[t]['propensity']:>+7.2f}]  " for t in tasks)
                lines.append(f"  {label + alpha:>10} {cells}")
    return "\n".join(lines)
