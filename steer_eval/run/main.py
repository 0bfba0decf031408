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
from steer_eval.run.execute import cell_key, run_cells
from steer_eval.run.prepare import Prepared, prepare
from steer_eval.run.provenance import manifest
from steer_eval.run.store import RunStore, stores_under
from steer_eval.run.summary import cell_rows, write_csv


@dataclass
class RunResult:
    output: Path
    counts: dict[str, int]
    rows: list[dict]
    summary: str
    analysis: Analysis | None = None


def estimate(prepared: Prepared, store: RunStore) -> str:
    """Grid size and work, before any compute."""
    from steer_eval.tasks.registry import get_task

    todo = [c for c in prepared.cells if not store.done(cell_key(prepared, c))]
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
        f"to compute: {len(todo)} cells ({len(prepared.cells) - len(todo) - len(reusable)} already in {store.root}"
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
    contents = [store.read_cell(cell_key(prepared, cell)) for cell in prepared.cells]
    rows = cell_rows([c for c in contents if c is not None])
    write_csv(rows, config.output / "cells.csv")
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    previous = store.manifest() or {}
    started = previous.get("started") or finished
    store.write_manifest(manifest(prepared, store, started=started, finished=finished, counts=counts))
    analysis = analyze(config.output, settings)
    analysis.write(config.output)
    if analysis.train_overlap:  # the manifest says it too: a run folder read without the analysis still shows it
        store.write_manifest({**(store.manifest() or {}), "train_overlap": analysis.train_overlap})
    write_report(analysis, config.output / "report.html")
    return RunResult(config.output, counts, rows, plain_words(analysis), analysis)
