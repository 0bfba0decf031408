"""`train_overlap`: how many of a steered cell's evaluated items its vector saw in training, counted on the
run folder alone: the manifest holds each vector's training record (task, split, question hashes; written by
the runner from the vector file) and every cell's records hold each item's question hash (tasks/questions.py).

A count is missing, with one note saying why (per vector or per run, never per cell), when the vector records
no training data (imported, built elsewhere or by an older steer-eval), when it hashed its questions another
way, or when the cells hold no question hashes (computed by an older steer-eval). Random placebo
controls were trained on nothing: their count is missing without a note."""

from __future__ import annotations

from dataclasses import dataclass, field

from steer_eval.analysis.load import CellData
from steer_eval.vectors.provenance import SCHEME


@dataclass
class Overlap:
    by_cell: dict[str, int | None] = field(default_factory=dict)  # cell key -> count (None: unknown)
    lines: list[str] = field(default_factory=list)  # one per vector and task it saw items of
    notes: list[str] = field(default_factory=list)  # why counts are missing


def _questions(cell: CellData, baseline: CellData | None) -> list[str] | None:
    """The cell's question hashes, or its baseline's (the same items) when the cell was copied from a run by
    an older steer-eval."""
    for source in (cell, baseline):
        if source is None or not source.questions or any(q is None for q in source.questions):
            continue
        if source is cell or source.item_ids == cell.item_ids:
            return [q for q in source.questions if q is not None]
    return None


def train_overlap(manifest: dict, cells: list[CellData], base: dict[tuple, CellData]) -> Overlap:
    vectors = manifest.get("vectors") or {}
    out = Overlap()
    notes: dict[str, str] = {}  # one per vector (or per run), in the order met
    trained_sets: dict[str, set[str]] = {}
    seen: dict[tuple[str, str], tuple[int, int, dict]] = {}
    for cell in cells:
        if cell.vector is None:
            continue
        out.by_cell[cell.key] = None
        if cell.arm is not None:
            continue  # a rival arm (and a vector with one) is counted where the vector runs alone
        info = vectors.get(cell.vector) or {}
        if cell.control_of is not None or info.get("method") == "random":
            continue  # a placebo has no training data: nothing to count, nothing to explain
        if "trained_on" not in info:
            notes["run"] = (
                "the manifest records no training data for the vectors (a run by an older steer-eval): "
                "train_overlap is empty; re-run to count the evaluated items each vector saw in training"
            )
            continue
        trained = info["trained_on"]
        if trained is None:
            notes[cell.vector] = (
                f"{cell.vector} records no training data (built elsewhere, imported, or by an older steer-eval): "
                "train_overlap is empty for its cells"
            )
            continue
        if trained.get("scheme") != SCHEME:
            notes[cell.vector] = (
                f"{cell.vector} hashed its training questions as {trained.get('scheme')!r}, this steer-eval as "
                f"{SCHEME!r}: train_overlap is empty for its cells; rebuild the vector to count them"
            )
            continue
        questions = _questions(cell, base.get(cell.group))
        if questions is None:
            notes["records"] = (
                "some cells record no question hashes (computed by an older steer-eval, or a task that cannot "
                "render an item without its few-shot context): train_overlap is empty for them; cells recomputed "
                "into a fresh --output by this steer-eval are counted"
            )
            continue
        hashes = trained_sets.setdefault(cell.vector, set(trained.get("questions") or ()))
        count = sum(q in hashes for q in questions)
        out.by_cell[cell.key] = count
        if count and cell.option_order == 0:
            key = (cell.vector, cell.task)
            if count > seen.get(key, (0, 0, {}))[0]:
                seen[key] = (count, len(questions), trained)
    for (label, task), (count, total, trained) in seen.items():
        out.lines.append(
            f"{label} saw {count} of {total} test items of {task} in training "
            f"(it was built on {trained.get('task')}'s {trained.get('split')} split)"
        )
    out.notes = list(notes.values())
    return out
