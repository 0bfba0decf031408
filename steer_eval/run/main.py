"""`steer-eval --model ... --vectors ...`: prepare (check everything), run the missing cells, summarise."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from steer_eval.analysis.api import Analysis, Settings, analyze
from steer_eval.analysis.summary import plain_words
from steer_eval.report.build import write_report
from steer_eval.run.config import RunConfig
from steer_eval.run.execute import cell_key, group_of, run_cells
from steer_eval.run.prepare import Prepared, prepare
from steer_eval.run.provenance import manifest
from steer_eval.run.shard import shard_part
from steer_eval.run.sharing import folder_lock, merge_manifests
from steer_eval.run.store import MANIFEST, RunStore, current_cells, stores_under
from steer_eval.run.summary import cell_rows, write_csv


@dataclass
class RunResult:
    output: Path
    counts: dict[str, int]
    rows: list[dict]
    summary: str
    analysis: Analysis | None = None
    coverage: str = ""  # what this command covered, and what the folder holds (several writers, shards)


def estimate(prepared: Prepared, store: RunStore) -> str:
    """Grid size and work, before any compute."""
    from steer_eval.tasks.registry import get_task

    part = shard_part(prepared.cells, prepared.config.shard, group_of)
    todo = [c for c in part if not store.done(cell_key(prepared, c))]
    sources = stores_under(prepared.config.reuse)
    reusable = {cell_key(prepared, c) for c in todo if any(source.done(cell_key(prepared, c)) for source in sources)}
    todo = [c for c in todo if cell_key(prepared, c) not in reusable]
    requests = 0
    unknown = set()
    for cell in todo:
        if cell.task.registry is None:
            unknown.add(cell.task.name)
            continue
        items = get_task(cell.task.registry).load(prepared.config.data_dir)["test"]
        if prepared.config.limit:
            items = items[: prepared.config.limit]
        requests += sum(len(getattr(item, "options", (None,))) for item in items)
    n_vectors = len({c.vector.sha256 for c in prepared.cells if c.vector is not None})
    arms = sum(c.arm is not None and c.condition.is_default for c in prepared.cells)
    conditioned = [c for c in prepared.cells if not c.condition.is_default]
    levels = sorted({c.condition.label for c in conditioned})
    lines = [
        f"grid: {len(prepared.cells)} cells = {len(prepared.tasks)} task(s) x {len(prepared.config.fewshot)} few-shot "
        f"setting(s) x up to {prepared.config.option_orders} option order(s) x (1 baseline + {n_vectors} vector(s) "
        "incl. controls x strengths x layers x position modes)"
        + (f" + {arms} rival-arm cells (alone, and prompts with each vector)" if arms else "")
        + (
            f" + {len(conditioned)} cells under {len(levels)} other condition(s) ({', '.join(levels)}), each with "
            "its own baseline"
            if conditioned
            else ""
        ),
        *strength_lines(prepared),
        *(
            [f"shard {prepared.config.shard}: {len(part)} of the grid's {len(prepared.cells)} cells"]
            if prepared.config.shard is not None
            else []
        ),
        f"to compute: {len(todo)} cells ({len(part) - len(todo) - len(reusable)} already in {store.root}"
        + (f", {len(reusable)} to copy from --reuse" if reusable else "")
        + "); "
        f"about {requests:,} scored continuations or generations"
        + (f" plus user task(s) {', '.join(sorted(unknown))}" if unknown else ""),
    ]
    return "\n".join(lines)


def strength_lines(prepared: Prepared) -> list[str]:
    """Each vector's strengths, the validation-selected one starred (controls run at their vector's)."""
    lines = []
    resamples: dict[str, int] = {}
    pairs: dict[str, int] = {}  # joint strength pairs per factorial pair (placebo pairs on their own)
    for vector_plan in prepared.plans:
        ref = vector_plan.ref
        if ref.resample_of is not None:
            resamples[ref.resample_of] = resamples.get(ref.resample_of, 0) + 1
        if ref.pair is not None:
            pairs[ref.pair] = pairs.get(ref.pair, 0) + 1
        if ref.control_of is not None or ref.resample_of is not None or ref.pair is not None:
            continue
        selected = prepared.selections.get(ref.label)
        shown = [f"{a:g}*" if selected and a == selected.alpha else f"{a:g}" for a in vector_plan.alphas if a != 0]
        if ref.members:
            note = "(a combination has no selected strength)"
        elif selected is None:
            note = "(no validation-selected strength recorded)"
        else:
            layer = "" if selected.layer is None else f" at layer {selected.layer}"
            note = f"(* selected on validation{layer})"
        lines.append(f"  strengths of {ref.label}: {', '.join(shown) or 'none'} {note}")
    for label, count in resamples.items():
        lines.append(
            f"  {count} bootstrap resamples of {label} (stored in its file) run as further vectors, at its strengths"
        )
    for label, count in pairs.items():
        lines.append(f"  pair {label}: {count} strength pairs (each member's strengths crossed)")
    if prepared.config.placebo_draws:
        draws = prepared.config.placebo_draws
        lines.append(f"  {draws} random control{'s' if draws > 1 else ''} per vector, at the strengths of the vector "
                     "they imitate")  # fmt: skip
    return lines


def run(
    config: RunConfig, progress: bool = True, dry_run: bool = False, lm=None, settings: Settings | None = None
) -> RunResult | str:
    prepared = prepare(config, progress)
    for note in dict.fromkeys(prepared.user_warnings):  # also kept in the manifest
        print(f"note: {note}", file=sys.stderr)
    store = RunStore(config.output)
    store.prepare(config.model, config.revision, config.dtype, config.model_args)
    if store.damaged_manifest:
        print(f"note: {store.root / MANIFEST} was damaged (not valid JSON) and is rewritten; finished cells of this "
              "grid are kept (each records its own model and settings)", file=sys.stderr)  # fmt: skip
    if dry_run:
        return estimate(prepared, store)
    damaged = [(key, problem) for key in map(lambda c: cell_key(prepared, c), prepared.cells)
               if (problem := store.problem(key))]  # fmt: skip
    if damaged:
        shown = "; ".join(f"{store.cell_path(key).name}: {problem}" for key, problem in damaged[:3])
        more = f"; and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        print(f"note: recomputing {len(damaged)} damaged cell(s) ({shown}{more})", file=sys.stderr)
    counts = run_cells(prepared, store, progress, lm=lm)
    if counts.pop("rank", 0) != 0:  # data parallel: rank 0 writes the results
        return RunResult(config.output, counts, [], "")
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    with folder_lock(store.root):  # other writers into this folder wait while the results are rebuilt
        previous = store.manifest() or {}
        current = manifest(prepared, store, started=previous.get("started") or finished, finished=finished,
                           counts=counts)  # fmt: skip
        merged = merge_manifests(previous, current)
        store.write_manifest(merged)
        missing = sum(not store.done(key) for key in merged["grid"]["cells"])
        coverage = coverage_line(prepared, counts, merged, missing)
        if config.shard is not None and missing:  # the last shard to finish writes the union's results
            return RunResult(config.output, counts, [], SHARD_WAITING, coverage=coverage)
        rows = cell_rows([content for _, content in current_cells(store, merged)])
        write_csv(rows, config.output / "cells.csv")
        analysis = analyze(config.output, settings)
        analysis.write(config.output)
        if analysis.train_overlap:  # the manifest says it too: a run folder read without the analysis still shows it
            store.write_manifest({**(store.manifest() or {}), "train_overlap": analysis.train_overlap})
        write_report(analysis, config.output / "report.html")
    return RunResult(config.output, counts, rows, plain_words(analysis), analysis, coverage)


SHARD_WAITING = (
    "other shards' cells are still missing: the last shard to finish writes the results of the whole grid, "
    "or run `steer-eval analyze` on the folder at any time for what is there"
)


def coverage_line(prepared: Prepared, counts: dict[str, int], merged: dict, missing: int) -> str:
    """What this writer covered, and what the folder now holds (several writers, shards: sharing.py)."""
    shard = f" (shard {prepared.config.shard})" if prepared.config.shard is not None else ""
    others = f", {counts['by_others']} computed meanwhile by another writer" if counts.get("by_others") else ""
    line = (f"this command{shard}: {counts['cells']} cells, {counts['computed']} computed here{others}, "
            f"{counts['already_done']} already there")  # fmt: skip
    grids = merged.get("grids") or []
    if len(grids) > 1 or missing:
        held = len(merged["grid"]["cells"]) - missing
        line += f"; the folder holds {held} cells from {len(grids)} command(s)"
        line += f", {missing} more still to compute" if missing else ""
    return line
