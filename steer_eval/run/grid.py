"""The experiment grid: which cells a run computes. A cell is (task, few-shot, option order, condition) x (no
vector, or one vector at one strength, layer and position mode). The unsteered baseline of each (task,
few-shot, option order, condition) is one cell shared by every vector and strength. Conditions (a prompt
template, a pressure prompt, earlier turns: steer_eval/conditions) vary one at a time from the default, at
the first few-shot setting and the original option order. Each cell has a stable key (a hash of what
it computes), so a re-run finds the cells that are already done."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from itertools import product

from steer_eval.conditions import DEFAULT, Condition
from steer_eval.run.arms import ArmRef
from steer_eval.vocab import PositionMode

CELL_FORMAT = 2


@dataclass(frozen=True)
class VectorRef:
    label: str  # file name, or "random(<label>, seed)" for a control
    path: str
    sha256: str  # identity of what the vector does (content hash; controls: reference + seed)
    control_of: str | None = None  # the label of the vector a random control imitates
    file_sha256: str | None = None  # the file as read, for provenance
    members: tuple[str, ...] = ()  # a combination: the member vectors' sha256 (all applied together)
    # a combination: the layer each member is applied at, in `members` order (None: all of its tensors, for a
    # vector that is not per-layer). Recorded in every cell's description, so the analysis pairs the
    # combination with the singles at exactly these layers (analysis/interactions.py).
    member_layers: tuple[int | None, ...] = ()
    resample_of: str | None = None  # a bootstrap resample of this vector (label), stored in its file
    resample: int | None = None
    # a factorial pair (`--combine pairs`, run/combinations.py): each member's own strength, in `members`
    # order (the cell's alpha multiplies them: 1); the pair's label ("A + B") shared by all its strength
    # pairs; and, for a placebo pair (A + a random vector of B's norm), the label of the pair it is the
    # reference for. Analysed apart from the main cells (analysis/pairs.py).
    member_alphas: tuple[float, ...] = ()
    pair: str | None = None
    placebo_for: str | None = None
    built_for: str | None = None  # a vector file built for another model (same width): a transfer cell
    recipe: str | None = None  # built here from a recipe (`caa:TASK`, vectors/recipes.py): its text, also the label


@dataclass(frozen=True)
class TaskRef:
    name: str  # lm-eval task name
    registry: str | None  # steer-eval registry name, None for a user's lm-eval task
    kind: str
    family: str
    output: str
    target_is_desired: bool | None
    data: str | None = None  # a hash of the task's items (registry tasks); part of every cell's key
    orders: int = 1  # how many distinct option orders its items have (1: generation, continuation, user tasks)
    scorer: str | None = None  # generation tasks: what reads the behaviour from the text (part of the key)
    prompts: tuple[tuple[str, str], ...] = ()  # the instructions the registry declares for the behaviour
    concept: str = ""  # the behaviour in words (the registry's desired answer): what a judge is asked about
    templates: int = 1  # prompt templates the task declares (conditions/templates.py); 1: only its own
    pressures: tuple[tuple[str, str], ...] = ()  # (name, text) pressure prompts its family declares
    options: tuple[tuple[str, str], ...] = ()  # a user task's declared option fields (tasks/user_options.py)


@dataclass(frozen=True)
class Cell:
    task: TaskRef
    fewshot: int
    option_order: int
    vector: VectorRef | None = None
    alpha: float = 0.0
    layer: int | None = None
    positions: PositionMode | None = None
    option_orders: int = 1  # K: order k shows each item rotated by k * n // K (tasks/items.rotation_shift)
    arm: ArmRef | None = None  # a rival arm (an instruction, demonstrations), alone or with the vector
    condition: Condition = DEFAULT  # template, pressure, earlier turns (steer_eval/conditions)

    @property
    def is_baseline(self) -> bool:
        return self.vector is None and self.arm is None

    def identity(
        self, model: str, revision: str | None, limit: int | None, seed: int, setup: dict | None = None
    ) -> dict:
        # K enters the key only for rotated orders: the original order is the same cell whatever K is.
        rotation = {"option_orders": self.option_orders} if self.option_order else {}
        scorer = {"scorer": self.task.scorer} if self.task.scorer else {}  # absent: keys of earlier runs hold
        if self.task.scorer and self.task.scorer.startswith("judge:"):
            scorer["concept"] = self.task.concept  # the judge is asked about it: another concept, other scores
        arm = {"arm": self.arm.identity()} if self.arm else {}
        condition = {"condition": self.condition.identity()} if not self.condition.is_default else {}
        return {
            **rotation,
            **condition,
            **scorer,
            **arm,
            "format": CELL_FORMAT,
            "model": model,
            "revision": revision,
            "setup": setup or {},  # what else changes numbers: dtype, model args
            "task": self.task.name,
            "task_data": self.task.data,
            "fewshot": self.fewshot,
            "option_order": self.option_order,
            "vector": None if self.vector is None else self.vector.sha256,
            "alpha": self.alpha,
            "layer": self.layer,
            "positions": None if self.positions is None else self.positions.value,
            "limit": limit,
            "seed": seed,
        }

    def key(self, model: str, revision: str | None, limit: int | None, seed: int, setup: dict | None = None) -> str:
        text = json.dumps(self.identity(model, revision, limit, seed, setup), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def describe(self) -> dict:
        out = {
            "task": asdict(self.task),
            "fewshot": self.fewshot,
            "option_order": self.option_order,
            "option_orders": self.option_orders,
            "vector": None if self.vector is None else asdict(self.vector),
            "alpha": self.alpha,
            "layer": self.layer,
            "positions": None if self.positions is None else self.positions.value,
            "template": self.condition.template,
            "pressure": self.condition.pressure,
            "turns": self.condition.turns,
        }
        if self.arm is not None:
            out["arm"] = asdict(self.arm)
        return out


@dataclass
class VectorPlan:
    """One vector's part of the grid. Its strengths are numbers here (`selected` already resolved to the
    vector's own), so a selected strength of 2 is the very cell `--alphas 2` computes: same key."""

    ref: VectorRef
    layers: list[int | None]
    modes: list[PositionMode | None]
    alphas: list[float]


def plan(
    tasks: list[TaskRef],
    vectors: list[VectorPlan],
    fewshot: list[int],
    option_orders: int,
    arms: dict[str, list[ArmRef]] | None = None,
    conditions: dict[str, list[Condition]] | None = None,
) -> list[Cell]:
    """Baselines first (every vector cell is compared with one), then vector cells, grouped so that cells
    sharing a task, few-shot count and option order run together. A task gets at most as many option orders
    as its items have distinct ones (`TaskRef.orders`): a rotation that repeats another would be computed
    twice, and one that changes nothing (generation, continuation layout) is no control. A task's rival
    arms (run/arms.py) follow its cells at the first few-shot setting and the original option order: each arm
    alone, and each prompt arm with every vector (not the placebos) at every strength. Then each of the task's
    other conditions: its baseline, every vector (placebos included) at every setting, and, under a pressure
    prompt, each prompt arm alone (how much of asking survives the same pressure). Factorial pairs and
    resamples run under the default condition only, pairs at the first few-shot setting and original order."""
    cells: list[Cell] = []
    for task in tasks:
        for shots in fewshot:
            orders = orders_for(task, option_orders)
            for order in range(orders):
                cells.append(Cell(task, shots, order, option_orders=orders))
                for vector in vectors:
                    if vector.ref.pair and (shots, order) != (fewshot[0], 0):
                        continue  # a factorial pair: the first few-shot setting and the original order only
                    for alpha, layer, mode in _settings(vector):
                        cells.append(Cell(task, shots, order, vector.ref, alpha, layer, mode, orders))
        for arm in (arms or {}).get(task.name, []):
            cells.append(Cell(task, fewshot[0], 0, arm=arm))
            if arm.kind != "prompt":
                continue
            for vector in vectors:
                if vector.ref.control_of is None and vector.ref.resample_of is None and not vector.ref.pair:
                    for alpha, layer, mode in _settings(vector):
                        cells.append(Cell(task, fewshot[0], 0, vector.ref, alpha, layer, mode, arm=arm))
        for condition in (conditions or {}).get(task.name, []):
            cells.append(Cell(task, fewshot[0], 0, condition=condition))
            for vector in (v for v in vectors if v.ref.resample_of is None and not v.ref.pair):  # default only
                for alpha, layer, mode in _settings(vector):
                    cells.append(Cell(task, fewshot[0], 0, vector.ref, alpha, layer, mode, condition=condition))
            if condition.pressure:
                for arm in (arms or {}).get(task.name, []):
                    if arm.kind == "prompt":
                        cells.append(Cell(task, fewshot[0], 0, arm=arm, condition=condition))
    return cells


def _settings(vector: VectorPlan) -> list[tuple[float, int | None, PositionMode | None]]:
    steered = [a for a in dict.fromkeys(map(float, vector.alphas)) if a != 0.0]  # 0 is the baseline
    return list(product(steered, vector.layers, vector.modes))


def orders_for(task: TaskRef, option_orders: int) -> int:
    """The option orders a task runs under when K = `option_orders` are asked for."""
    return max(1, min(option_orders, task.orders))
