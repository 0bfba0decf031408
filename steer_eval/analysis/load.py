"""Reading a run store into arrays: one `CellData` per finished cell of the run's grid, items in a fixed
order, and the pairing of each steered cell with its baseline (same task, few-shot, option order and
condition: template, pressure, earlier turns)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from steer_eval.conditions import Condition
from steer_eval.errors import SteerEvalError
from steer_eval.run.store import MANIFEST, RunStore, stale

JUDGE_RATINGS = ("relevance", "judge_fluency", "judge_overall")  # what a judge rates beside the behaviour


@dataclass
class CellData:
    key: str
    task: str
    registry: str | None
    kind: str
    family: str
    output: str
    target_is_desired: bool | None
    vector: str | None  # label (a rival arm's too: prompt:NAME, fewshot:K, VECTOR+prompt:NAME); None: the baseline
    control_of: str | None
    vector_sha: str | None
    members: tuple[str, ...]  # a combination's member vectors (sha256); empty otherwise
    # the layer each member was applied at (None: all of its tensors); None when the cell does not say
    # (a combination cell written before steer-eval recorded them)
    member_layers: tuple[int | None, ...] | None
    alpha: float
    layer: int | None
    positions: str | None
    fewshot: int
    option_order: int
    item_ids: list[str]
    doc_hashes: list[str]
    correct: np.ndarray  # float, nan where the task gives none
    propensity: np.ndarray  # float, nan where not defined
    chosen: np.ndarray  # int, -1 where not defined
    bbq: dict[str, np.ndarray] = field(default_factory=dict)  # condition (str), biased, unknown (int)
    questions: list[str | None] = field(default_factory=list)  # question hashes (None: a cell of an older run)
    # generation cells: the scorer that read the behaviour (its scores are `correct`: nan where a text could
    # not be scored) and the fluency of each text (nan where not measured)
    scorer: str | None = None
    arm: str | None = None  # the rival arm's label, alone or with a vector; None for vectors alone
    nll: np.ndarray | None = None  # mean per-token NLL under the unsteered model
    distinct: np.ndarray | None = None  # distinct-2
    words: np.ndarray | None = None  # length in words
    texts: list[str] | None = None  # what the model wrote, per item
    judged: dict[str, np.ndarray] = field(default_factory=dict)  # a judge's other ratings (0-1): relevance, ...
    resample_of: str | None = None  # a bootstrap resample of this vector (label): analysed apart (resampled.py)
    # a factorial pair's cell (run/combinations.py): each member's strength, the pair's label, and for a
    # placebo pair the label of the pair it is the reference for; analysed apart (pairs.py)
    member_alphas: tuple[float, ...] = ()
    pair: str | None = None
    placebo_for: str | None = None
    template: int = 0  # the condition the cell was measured under (steer_eval/conditions); defaults: none
    pressure: str | None = None
    turns: int = 0

    @property
    def condition(self) -> str:
        """'' under the default condition, else e.g. 'template=1' (conditions.Condition.label)."""
        return Condition(self.template, self.pressure, self.turns).label

    @property
    def group(self) -> tuple[str, int, int, str]:
        """The cells that share one unsteered baseline."""
        return (self.task, self.fewshot, self.option_order, self.condition)

    @property
    def series(self) -> tuple:
        """Cells that differ only in strength (a dose-response series)."""
        return (self.task, self.vector, self.layer, self.positions, self.fewshot, self.option_order, self.condition)


def _cell(key: str, content: dict) -> CellData:
    cell, records = content["cell"], content["records"]
    task, vector, arm = cell["task"], cell["vector"], cell.get("arm")
    label = None if vector is None else vector["label"]
    if arm is not None:  # a rival arm is labelled like a vector: prompt:NAME, fewshot:K, VECTOR+prompt:NAME
        arm_label = f"prompt:{arm['name']}" if arm["kind"] == "prompt" else f"fewshot:{arm['shots']}"
        label = arm_label if label is None else f"{label}+{arm_label}"

    def column(name: str, default=np.nan) -> np.ndarray:
        return np.array([default if r.get(name) is None else r[name] for r in records], dtype=float)

    data = CellData(
        key=key,
        task=task["name"],
        registry=task.get("registry"),
        kind=task["kind"],
        family=task["family"],
        output=task.get("output", "multiple_choice"),
        target_is_desired=task.get("target_is_desired"),
        vector=label,
        arm=None if arm is None else arm_label,
        control_of=None if vector is None else vector.get("control_of"),
        vector_sha=None if vector is None else vector.get("sha256"),
        members=() if vector is None else tuple(vector.get("members") or ()),
        member_layers=None if vector is None or "member_layers" not in vector else tuple(vector["member_layers"]),
        alpha=float(cell["alpha"]),
        layer=cell["layer"],
        positions=cell["positions"],
        fewshot=int(cell["fewshot"]),
        option_order=int(cell["option_order"]),
        item_ids=[str(r["item_id"]) for r in records],
        doc_hashes=[r.get("doc_hash", "") for r in records],
        correct=column("correct"),
        propensity=column("propensity"),
        chosen=column("chosen", -1).astype(int),
        questions=[r.get("question") for r in records],
        resample_of=None if vector is None else vector.get("resample_of"),
        member_alphas=() if vector is None else tuple(map(float, vector.get("member_alphas") or ())),
        pair=None if vector is None else vector.get("pair"),
        placebo_for=None if vector is None else vector.get("placebo_for"),
        template=int(cell.get("template") or 0),
        pressure=cell.get("pressure") or None,
        turns=int(cell.get("turns") or 0),
    )
    if data.output == "generate_until" and records and "nll" in records[0]:
        data.scorer = task.get("scorer")
        if data.scorer:
            data.correct = column("score")  # the behaviour measure of a generation cell is its scorer's
        data.nll, data.distinct, data.words = column("nll"), column("distinct2"), column("words")
        data.texts = [str(r.get("text", "")) for r in records]
        data.judged = {name: column(name) for name in JUDGE_RATINGS if name in records[0]}
    if records and "condition" in records[0]:
        data.bbq = {
            "condition": np.array([r.get("condition", "") for r in records]),
            "biased": column("biased", -1).astype(int),
            "unknown": column("unknown", -1).astype(int),
        }
    return data


def load_texts(run_dir: str | Path, cells: list[CellData]) -> dict[str, dict[str, dict]]:
    """Baseline cells' item texts (kept for the report's examples): {cell key: {item id: {text, choices}}};
    for a generation task, `text` is the prompt (what was written after it is in the cells' `texts`)."""
    store = RunStore(run_dir)
    out: dict[str, dict[str, dict]] = {}
    for cell in cells:
        if cell.vector is None:
            content = store.read_cell(cell.key) or {}
            out[cell.key] = {
                str(r["item_id"]): {"text": _shown(r, cell.output), "choices": r.get("choices", [])}
                for r in content.get("records", [])
                if "text" in r
            }
    return out


def _shown(record: dict, output: str) -> str:
    if output == "generate_until":  # `text` is what the model wrote; the prompt is absent from older runs
        return str(record.get("prompt", ""))
    return str(record.get("text", ""))


def load_run(run_dir: str | Path) -> tuple[dict, list[CellData]]:
    """The manifest and the cells of its grid that are finished (a partial run analyses what it has)."""
    manifest, cells, _ = load_run_counted(run_dir)
    return manifest, cells


def load_run_counted(run_dir: str | Path) -> tuple[dict, list[CellData], int]:
    """`load_run`, and how many cells of the grid are not finished (missing: not computed yet, or deleted);
    cells of an earlier content of a rebuilt vector are left out and not counted."""
    store = RunStore(run_dir)
    manifest = store.manifest()
    if manifest is None or not isinstance(manifest.get("grid"), dict) or "cells" not in manifest["grid"]:
        raise SteerEvalError(_no_manifest(store, run_dir, manifest))
    cells, damaged, missing = [], [], 0
    for key in manifest["grid"]["cells"]:
        content = store.read_cell(key)
        if content is None and (problem := store.problem(key)):
            damaged.append(f"{store.cell_path(key)}: {problem}")
        elif content is None:
            missing += 1
        if content is not None and not stale(content, manifest):  # stale: an earlier content of a rebuilt vector
            try:
                cells.append(_cell(key, content))
            except (KeyError, TypeError, ValueError) as exc:
                where = store.cell_path(key)
                raise SteerEvalError(
                    f"{where} is not a steer-eval cell ({type(exc).__name__}: {exc}); delete it to recompute"
                ) from None
    if damaged:  # never dropped silently: the results would describe fewer cells than the run has
        raise SteerEvalError(
            f"{len(damaged)} cell(s) damaged ({damaged[0]}{'; ...' if len(damaged) > 1 else ''}); rerun the same "
            "command to recompute them"
        )
    if not cells:
        raise SteerEvalError(f"{run_dir} holds no finished cells yet; run (or resume) the job first")
    return manifest, cells, missing


def incomplete(grid_cells: int, missing: int, cells: list[CellData], base: dict) -> list[str]:
    """What the results leave out, in words a reader sees first: cells of the grid not finished, and steered
    cells whose unsteered baseline is not finished (they cannot be paired, so they are not analysed)."""
    words = []
    if missing:
        words.append(
            f"{missing} of the grid's {grid_cells} cells are not finished (not computed yet, or deleted): these "
            "results describe only the finished ones; rerun the same command to compute the rest"
        )
    orphans = sum(1 for c in cells if c.vector is not None and c.group not in base)
    if orphans:
        words.append(
            f"{orphans} steered cell(s) have no finished unsteered baseline to be paired with and are left out "
            "(rerun the same command to compute it)"
        )
    return words


def baselines(cells: list[CellData]) -> dict[tuple[str, int, int, str], CellData]:
    return {c.group: c for c in cells if c.vector is None}


def check_paired(baseline: CellData, steered: CellData) -> None:
    if baseline.item_ids != steered.item_ids or baseline.doc_hashes != steered.doc_hashes:
        raise SteerEvalError(
            f"cells of task {steered.task} do not hold the same items as their baseline (the data changed between "
            "runs?); re-run the baseline and the steered cells into a fresh --output"
        )


def dump(obj) -> str:
    return json.dumps(obj, indent=1, default=str)


def _no_manifest(store: RunStore, run_dir: str | Path, manifest: dict | None) -> str:
    """Why `run_dir` gives no grid to analyse: no manifest (not a run folder), or a damaged one (the run's
    command rewrites it, keeping every finished cell)."""
    path = store.root / MANIFEST
    if not path.is_file():
        return f"{run_dir} is not a steer-eval run folder (it has no {MANIFEST}); give the --output folder of a run"
    why = "is not valid JSON" if manifest is None else "has no grid of cells"
    return (
        f"{path} is damaged ({why}); rerun the run's command with --output {run_dir} to rewrite it (its finished "
        "cells are kept), or restore the file"
    )
