"""Running the grid: one model load, then for each (task, few-shot, option order) the baseline and every
steered cell through lm-eval's `evaluate`, each finished cell written to the run store. Cells already in
the store are skipped, so an interrupted run resumes where it stopped.

The cells of one (task, few-shot, option order) score the same requests, so they are announced to the
model as one sweep: the first cell's log-likelihood requests are scored for all of them at once, reusing
the unsteered computation below each setting's first steered block (steering/sweep.py)."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import torch
from tqdm import tqdm

from steer_eval.conditions.apply import apply_condition
from steer_eval.run.grid import Cell
from steer_eval.run.prepare import Prepared
from steer_eval.run.provenance import manifest
from steer_eval.run.records import item_record, question_of
from steer_eval.run.store import RunStore, stores_under
from steer_eval.run.textscore import add_text_scores
from steer_eval.steering.interventions import Intervention, interventions_from_vector

FEWSHOT_SEED = 1234  # lm-eval's default few-shot sampler seed, offset by --seed


def setup(prepared: Prepared, cell: Cell | None = None) -> dict:
    config = prepared.config
    out = {"dtype": config.dtype, "model_args": config.model_args}
    if not config.prompt_format.plain:  # another way of showing prompts is another measurement
        out["prompt_format"] = config.prompt_format.describe()
    decoding = decoding_of(prepared, cell)
    if decoding:  # sampled generation is another measurement; greedy keeps the keys runs always had
        out["decoding"] = decoding
    return out


def decoding_of(prepared: Prepared, cell: Cell | None) -> dict:
    """How a generation cell decodes when it does not decode greedily: samples per prompt and temperature."""
    config = prepared.config
    if cell is None or cell.task.output != "generate_until" or config.samples <= 1:
        return {}
    return {"samples": config.samples, "temperature": config.temperature}


def cell_key(prepared: Prepared, cell: Cell) -> str:
    config = prepared.config
    return cell.key(config.model, config.revision, config.limit, config.seed, setup(prepared, cell))


def load_lm(prepared: Prepared):
    from steer_eval.models import pick_device, pick_dtype
    from steer_eval.steering.lm_model import SteerEvalLM

    config = prepared.config
    device = pick_device(config.device)
    dtype = pick_dtype(config.dtype, device)
    args: dict[str, Any] = {
        "pretrained": prepared.model_path,
        "revision": config.revision or "main",
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "batch_size": config.batch_size,
        **config.model_args,
    }
    if ("parallelize" in config.model_args or "device_map" in config.model_args) and device.type != "cpu":
        args.pop("device")  # the layers' placement decides; on CPU the inputs stay on the CPU (offload: disk)
    if device.type == "cpu" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # several processes (torchrun) on CPU: accelerate joins them over gloo only when told to use the CPU
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    lm = SteerEvalLM(**args)
    lm.prefix_reuse = config.prefix_reuse
    return lm


@contextmanager
def _quiet_lm_eval() -> Iterator[None]:
    """lm-eval's INFO logs and its per-cell progress bars would drown the runner's one bar over cells.
    lm-eval builds each task's requests under its own tqdm bar with no switch, so the module's `tqdm` is
    swapped for a silent one while the grid runs."""
    import lm_eval.api.task as task_module

    logger = logging.getLogger("lm_eval")
    level, bar = logger.level, task_module.tqdm
    logger.setLevel(logging.ERROR)
    task_module.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        logger.setLevel(level)
        task_module.tqdm = bar


def run_cells(prepared: Prepared, store: RunStore, progress: bool = True, lm=None) -> dict[str, int]:
    """Compute every cell of the grid that the store does not hold yet. Returns counts."""
    from lm_eval.evaluator import evaluate
    from lm_eval.tasks import TaskManager

    from steer_eval.paths import tasks_dir

    config = prepared.config
    todo = [cell for cell in prepared.cells if not store.done(cell_key(prepared, cell))]
    counts = {"cells": len(prepared.cells), "already_done": len(prepared.cells) - len(todo), "computed": 0, "rank": 0}
    sources = [source for source in stores_under(config.reuse) if source.root.resolve() != store.root.resolve()]
    adopted = {key for key in map(functools.partial(cell_key, prepared), todo) if sources and store.adopt(key, sources)}
    counts["reused"] = len(adopted)
    todo = [cell for cell in todo if cell_key(prepared, cell) not in adopted]
    if not todo:
        return counts
    lm = lm or load_lm(prepared)
    if getattr(lm, "rank", 0) == 0:
        # a resumed run keeps the time its grid was first started
        started = (store.manifest() or {}).get("started") or datetime.now(UTC).isoformat(timespec="seconds")
        store.write_manifest(manifest(prepared, store, started=started, finished=None))
    lm.quiet = True  # one bar over the cells (with an ETA) and a transient one over each cell's items
    lm.item_progress = progress
    paths = [str(tasks_dir())] + ([config.include_path] if config.include_path else [])
    user_tasks = any(cell.task.registry is None for cell in todo)
    counts["rank"] = getattr(lm, "rank", 0)
    bar = tqdm(total=len(todo), desc="Cells", unit="cell", disable=not progress or counts["rank"] != 0)
    managers: dict[tuple[int, int, int], Any] = {}

    def group_of(cell: Cell):
        return (cell.task.name, cell.fewshot, cell.option_order, cell.option_orders, cell.arm, cell.condition)

    try:  # the bar ends its line even when a cell fails, so the error that follows stands on its own line
        with _quiet_lm_eval():
            for (task_name, shots, order, orders, arm, condition), cells in groupby(todo, key=group_of):
                cells = list(cells)
                template = condition.template if cells[0].task.registry is not None else 0
                if (order, orders, template) not in managers:
                    managers[order, orders, template] = TaskManager(
                        include_path=paths,
                        include_defaults=user_tasks,
                        metadata={"option_order": order, "option_orders": orders, "template": template},
                    )
                loaded = managers[order, orders, template].load([task_name])
                task = loaded["tasks"][task_name]
                apply_condition(task, cells[0])
                demonstrations = arm.shots if arm is not None and arm.kind == "fewshot" else shots
                task.set_config(key="num_fewshot", value=demonstrations)
                decoding = decoding_of(prepared, cells[0])
                if decoding:  # N draws per prompt (lm-eval's repeats), seeded by the run's --seed
                    kwargs = {**(task.config.generation_kwargs or {}), "do_sample": True}
                    task.set_config(key="generation_kwargs", value={**kwargs, "temperature": decoding["temperature"]})
                    task.set_config(key="repeats", value=decoding["samples"])
                    torch.manual_seed(config.seed)
                task.set_fewshot_seed(seed=FEWSHOT_SEED + config.seed)
                keys = [cell_key(prepared, cell) for cell in cells]
                lm.plan_sweep({key: interventions_for(prepared, cell) for key, cell in zip(keys, cells, strict=True)})
                try:
                    for key, cell in zip(keys, cells, strict=True):
                        bar.set_postfix_str(_short(cell), refresh=False)
                        lm.use_setting(key)
                        _run_cell(prepared, store, lm, evaluate, loaded, task_name, cell)
                        counts["computed"] += 1
                        bar.update(1)
                finally:
                    lm.end_sweep()
    finally:
        bar.close()
    return counts


def _short(cell: Cell) -> str:
    arm = f" {cell.arm.label}" if cell.arm else ""
    if cell.vector is None:
        return f"{cell.task.name}{arm or ' baseline'}"
    return f"{cell.task.name} {cell.vector.label}{arm} x{cell.alpha:g}"


def interventions_for(prepared: Prepared, cell: Cell) -> list[Intervention]:
    """What the model applies for `cell` (nothing for a baseline)."""
    if cell.vector is None:
        return []
    if cell.vector.members:  # a combination: every member at the layer its cell records, in file order
        interventions = []
        scales = cell.vector.member_alphas or (1.0,) * len(cell.vector.members)  # a factorial pair: its own
        for sha, layer, scale in zip(cell.vector.members, cell.vector.member_layers, scales, strict=True):
            interventions += interventions_from_vector(
                prepared.vectors[sha], alpha=cell.alpha * scale, positions=cell.positions, layer=layer
            )
        return interventions
    vector = prepared.vectors[cell.vector.sha256]
    return interventions_from_vector(
        vector, alpha=cell.alpha, positions=cell.positions, label=cell.vector.label, layer=cell.layer
    )


def _run_cell(prepared: Prepared, store: RunStore, lm, evaluate, loaded, task_name: str, cell: Cell) -> None:
    """Evaluate one cell under the setting already chosen on `lm` and write it to the store."""
    start = time.perf_counter()
    shown = prepared.config.prompt_format
    out = evaluate(
        lm=lm, task_dict=loaded, limit=prepared.config.limit, log_samples=True, bootstrap_iters=0,
        apply_chat_template=shown.chat_template, system_instruction=shown.system_instruction,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if out is None:  # data parallel (accelerate launch): every rank computes, rank 0 gathers and writes
        return
    samples = sorted(out["samples"][task_name], key=lambda s: s["doc_id"])
    metrics = {k: v for k, v in out["results"][task_name].items() if isinstance(v, (int, float)) and k != "alias"}
    task, output = loaded["tasks"][task_name], cell.task.output
    records = [
        item_record(sample, output, cell.is_baseline, question_of(task, sample.get("doc", {}), output))
        for sample in samples
    ]
    if output == "generate_until":
        add_text_scores(records, samples, cell.task.scorer, lm, concept=cell.task.concept)
    store.write_cell(
        cell_key(prepared, cell),
        {
            "cell": cell.describe(),
            "identity": cell.identity(
                prepared.config.model, prepared.config.revision, prepared.config.limit, prepared.config.seed
            ),
            "metrics": metrics,
            "seconds": seconds,
            "decoding": decoding_of(prepared, cell) or {"greedy": True},
            "records": records,
        },
    )
