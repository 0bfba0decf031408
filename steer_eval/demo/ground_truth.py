"""The demo world's known truth: what a vector does to each demo task, derived from the vector itself and
the model's planted directions (model.py), not from any measurement; and a comparison of a run's verdicts
with it.

What training fixes by construction (training.py): a disposition moves when all of its planted coordinates
move together; the untagged bot's default sits DEFAULT_CONFIDENCE planted scales from the boundary; far
pushes along a disposition make capability answers random; random pushes, up to a share of the residual's
norm, change nothing. A vector's *push* on a disposition at strength alpha is alpha x its projection on each
of the disposition's directions (in planted scales). The truth per cell:
- the letter vector (run.py) is an `artifact` on the lettered task, by how it is built; nothing else of it
  is asserted (it acts at the last block, which training did not make robust);
- a random placebo: `no detectable effect` while its norm stays within what training made the model shrug
  off (PLACEBO_ROBUST of the residual norm on behaviours, CAPABILITY_ROBUST on capabilities);
- a built vector, while the part of it outside the planted subspace stays small (OFF_SUBSPACE of the
  residual norm: a builder reads other features too, whose effects the construction does not fix): on its
  disposition's task `helps` (`hurts`, pushed the other way) when every direction is pushed past the
  default (HELPS_FROM, HURTS_FROM), `no detectable effect` when none moves by more than NEGLIGIBLE; on a
  capability `hurts` past the overexcited threshold (with OVEREXCITED_MARGIN to spare), `no detectable
  effect` within the calm range; the world's own planted vectors (run.py) have nothing outside the subspace,
  so every band applies to them;
- everything else is not asserted. "No detectable effect" agrees with any verdict that claims no effect
  (`no detectable effect`, `inconclusive`: too few items to rule one out, `non-inferior`).
`truth_table` writes this per cell of a run; `summary` says where the run's verdicts agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from steer_eval.analysis.views import main as main_view
from steer_eval.demo.model import DemoRecipe, planted_directions
from steer_eval.demo.world import BEHAVIOURS

TASK_BEHAVIOUR = {"demo_sentiment": "mood", "demo_sentiment_mc": "mood", "demo_sycophancy": "style"}
CAPABILITIES = ("demo_facts", "demo_compare")
# Where the planted overexcitement is asserted: recall of facts (72 test items) falls to chance; comparing
# numbers (36 items) resists it on the shipped model more often than not, so it is measured, not asserted.
OVEREXCITABLE = ("demo_facts",)
LETTER_TASK = "demo_sentiment_mc"
# Every direction pushed this far flips every item's default: measured on the shipped model with pure pushes
# (tests/test_demo_ground_truth.py); training sets the disposition from 1 scale on, but the model needs more
# to overturn a default of DEFAULT_CONFIDENCE towards the desired answer than away from it.
HELPS_FROM = 3.0
HURTS_FROM = 2.0
NEGLIGIBLE = 0.3  # no direction pushed further than this: nothing crosses the default's margin
OVEREXCITED_MARGIN = 0.5  # planted scales past the overexcited threshold before a capability harm is asserted
OFF_SUBSPACE = 0.15  # a built vector's part outside the planted directions, as a share of the residual norm
PLACEBO_ROBUST = 0.35  # random pushes up to this share of the residual norm leave the behaviours alone
CAPABILITY_ROBUST = 0.2  # ... and the capabilities
NO_EFFECT = ("no detectable effect", "inconclusive", "non-inferior")


@dataclass(frozen=True)
class Push:
    """A vector's push per unit strength on each disposition's planted directions, in planted scales, and the
    norms of the whole vector and of its part outside the planted subspace (residual units)."""

    components: dict[str, tuple[float, ...]]
    norm: float
    off_subspace: float

    def at(self, alpha: float, behaviour: str) -> tuple[float, ...]:
        return tuple(alpha * c for c in self.components[behaviour])


def vector_push(tensor: torch.Tensor, recipe: DemoRecipe) -> Push:
    directions = planted_directions(recipe)
    tensor = tensor.float()
    components = {b: tuple(float(x) for x in (directions[b] @ tensor) / recipe.planted_scale) for b in BEHAVIOURS}
    planted = torch.cat([directions[b] for b in BEHAVIOURS])
    off = tensor - planted.T @ (planted @ tensor)
    return Push(components, float(tensor.norm()), float(off.norm()))


def expected(push: Push, alpha: float, task: str, recipe: DemoRecipe, residual: float, kind: str) -> str:
    """The verdict the world's construction implies for one cell, or "" where it implies none. `kind` is
    "letter", "placebo" or "built"; `residual` the residual norm where the vector acts."""
    if kind == "letter":
        return "artifact" if task == LETTER_TASK else ""
    behaviour_task = task in TASK_BEHAVIOUR
    if kind == "placebo":
        share = PLACEBO_ROBUST if behaviour_task else CAPABILITY_ROBUST
        return "no detectable effect" if abs(alpha) * push.norm <= share * residual else ""
    if abs(alpha) * push.off_subspace > OFF_SUBSPACE * residual:
        return ""
    pushes = {b: push.at(alpha, b) for b in BEHAVIOURS}
    overexcited = any(min(abs(c) for c in p) >= recipe.overexcited_from for p in pushes.values())
    if behaviour_task:
        own = pushes[TASK_BEHAVIOUR[task]]
        if all(c >= HELPS_FROM for c in own):
            return "helps"
        if all(c <= -HURTS_FROM for c in own):
            return "hurts"
        # an overexcited bot answers at random whatever is asked: nothing is asserted of its other behaviour
        return "no detectable effect" if max(abs(c) for c in own) <= NEGLIGIBLE and not overexcited else ""
    far = recipe.overexcited_from + OVEREXCITED_MARGIN
    if task in OVEREXCITABLE and any(min(abs(c) for c in p) >= far and len({c > 0 for c in p}) == 1
                                     for p in pushes.values()):  # fmt: skip
        return "hurts"
    calm = all(max(abs(c) for c in p) <= recipe.calm_until for p in pushes.values())
    return "no detectable effect" if calm else ""


def residual_norms(model, tokenizer, layers: tuple[int, ...] = (1, 2, 3)) -> dict[int, float]:
    """Mean norm of the residual stream (block outputs) at the last prompt token of the behaviour tasks' test
    items: the scale the model's robustness to random pushes was trained at (relative to it)."""
    from steer_eval.tasks import load_split
    from steer_eval.vectors.capture import Reading, read_last_token
    from steer_eval.vectors.choices import choice_tokens
    from steer_eval.vectors.format import SiteKey
    from steer_eval.vocab import Site

    items = [item for task in TASK_BEHAVIOUR for item in load_split(task, "test")]
    tokens = [choice_tokens(tokenizer, item) for item in items]
    reading = Reading(tuple(SiteKey(Site.RESID, layer) for layer in layers))
    totals = dict.fromkeys(layers, 0.0)
    for batch in read_last_token(
        model, [t.context for t in tokens], reading, batch_size=64, read_index=[t.prompt_length - 1 for t in tokens]
    ):
        for key, acts in batch.activations.items():
            totals[key.layer] += float(acts.norm(dim=1).sum())
    return {layer: total / len(items) for layer, total in totals.items()}


def truth_table(
    run_dir: Path, effects: pd.DataFrame, residual: dict[int, float], recipe: DemoRecipe | None = None
) -> pd.DataFrame:
    """Per steered cell of a demo run at the original option order: the expected verdict ("" where none)
    beside the run's verdict. `effects` is the analysis' effects table; `residual` the model's residual norms
    (`residual_norms`)."""
    from steer_eval.analysis.load import load_run
    from steer_eval.vectors.files import read_vector_file

    recipe = recipe or DemoRecipe()
    manifest, _ = load_run(run_dir)
    pushes: dict[tuple[str, int | None], Push] = {}
    rows = []
    for _, row in effects[main_view(effects)].iterrows():
        info = manifest["vectors"].get(row["vector"], {})
        if not info or info.get("members"):
            continue
        layer = None if pd.isna(row["layer"]) else int(row["layer"])
        key = (row["vector"], layer)
        if key not in pushes:
            vector = read_vector_file(info["path"])
            tensors = [t for k, t in vector.directions.items() if layer is None or k.layer == layer]
            pushes[key] = vector_push(sum(tensors), recipe)
        kind = "placebo" if info.get("control_of") else ("letter" if _is_letter(info) else "built")
        where = residual.get(layer, max(residual.values(), default=math.inf))
        truth = expected(pushes[key], float(row["alpha"]), row["task"], recipe, where, kind)
        rows.append(
            {
                "task": row["task"],
                "vector": row["vector"],
                "alpha": row["alpha"],
                "layer": layer,
                "is_control": bool(row["is_control"]),
                "expected": truth,
                "verdict": row["verdict"],
                "agrees": _agrees(truth, row["verdict"]) if truth else None,
            }
        )
    return pd.DataFrame(rows)


def _agrees(truth: str, verdict: str) -> bool:
    return verdict in NO_EFFECT if truth == "no detectable effect" else verdict == truth


def _is_letter(info: dict) -> bool:
    return Path(info["path"]).name.startswith("letter-")


def summary(table: pd.DataFrame) -> str:
    """One paragraph: how many of the cells with a known truth the run's verdicts got right."""
    known = table[table["expected"] != ""]
    if known.empty:
        return "no cell of this run has a verdict the demo world's construction implies"
    right = int(known["agrees"].sum())
    null = known[known["expected"] == "no detectable effect"]
    unsure = int((null["verdict"] == "inconclusive").sum())
    lines = [
        f"verdicts against the demo world's known truth: {right} of {len(known)} cells agree "
        f"({len(table) - len(known)} cells have no truth the construction fixes; of {len(null)} true nulls, "
        f"{unsure} are `inconclusive`: too few items to rule out a 10-point effect)"
    ]
    for _, row in known[~known["agrees"].astype(bool)].head(5).iterrows():
        lines.append(
            f"  {row['vector']} at strength {row['alpha']:g} on {row['task']}: expected {row['expected']}, "
            f"got {row['verdict']}"
        )
    return "\n".join(lines)
