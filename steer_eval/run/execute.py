"""Running the grid: one model load, then for each (task, few-shot, option order) the baseline and every
steered cell through lm-eval's `evaluate`, each finished cell written to the run store. Cells already in
the store are skipped, so an interrupted run resumes where it stopped.

The cells of one (task, few-shot, option order) score the same requests, so they are announced to the
model as one sweep: the first cell's log-likelihood requests are scored for all of them at once, reusing
the unsteered computation below each setting's first steered block (steering/sweep.py)."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from steer_eval.conditions.apply import apply_condition
from steer_eval.run.grid import Cell
from steer_eval.run.prepare import Prepared
from steer_eval.run.provenance import manifest
from steer_eval.run.records import item_record, question_of, score_every_draw
from steer_eval.run.shard import shard_part
from steer_eval.run.sharing import Claims, folder_lock, merge_manifests
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
    lm.share_prompt_cache = config.prefix_reuse  # generation's counterpart: each setting encodes its own prompt
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


def group_of(cell: Cell) -> tuple:
    """The cells that score the same requests: computed together as one sweep (the module's docstring)."""
    return (cell.task.name, cell.fewshot, cell.option_order, cell.option_orders, cell.arm, cell.condition)


def run_cells(prepared: Prepared, store: RunStore, progress: bool = True, lm=None) -> dict[str, int]:
    """Compute every cell of this writer's part of the grid (all of it, or its `--shard`) that the store does
    not hold yet, claiming each before computing it (sharing.py): a cell another writer is computing is
    waited for, not computed twice. Returns counts."""
    config = prepared.config
    part = shard_part(prepared.cells, config.shard, group_of)
    todo = [cell for cell in part if not store.done(cell_key(prepared, cell))]
    counts = {"cells": len(part), "already_done": len(part) - len(todo), "computed": 0, "by_others": 0, "rank": 0}
    sources = [source for source in stores_under(config.reuse) if source.root.resolve() != store.root.resolve()]
    adopted = {key for key in map(functools.partial(cell_key, prepared), todo) if sources and store.adopt(key, sources)}
    counts["reused"] = len(adopted)
    todo = [cell for cell in todo if cell_key(prepared, cell) not in adopted]
    if not todo:
        return counts
    lm = lm or load_lm(prepared)
    counts["rank"] = getattr(lm, "rank", 0)
    agreed = set(_from_rank0(lm, [cell_key(prepared, cell) for cell in todo]))  # every rank, the same cells
    todo = [cell for cell in part if cell_key(prepared, cell) in agreed]
    if counts["rank"] == 0:
        # a resumed run keeps the time its grid was first started
        started = (store.manifest() or {}).get("started") or datetime.now(UTC).isoformat(timespec="seconds")
        write_merged_manifest(store, manifest(prepared, store, started=started, finished=None))
    lm.quiet = True  # one bar over the cells (with an ETA) and a transient one over each cell's items
    lm.item_progress = progress
    bar = tqdm(total=len(todo), desc="Cells", unit="cell", disable=not progress or counts["rank"] != 0)
    claims, managers = Claims(store.root), {}
    try:  # the bar ends its line even when a cell fails, so the error that follows stands on its own line
        with _quiet_lm_eval():
            pending = todo
            while pending:
                waiting = []
                for _, cells in groupby(pending, key=group_of):
                    mine, others, finished = _claim(prepared, store, claims, lm, list(cells))
                    waiting += others
                    counts["by_others"] += len(finished)
                    bar.update(len(finished))
                    if mine:
                        _run_group(prepared, store, lm, claims, mine, bar, counts, managers)
                pending = []
                if waiting:  # another writer is computing these: wait for it (or for its death) and recheck
                    bar.set_postfix_str(f"waiting for another writer ({len(waiting)} cells)", refresh=True)
                    pending, finished = _wait_for(prepared, store, claims, lm, waiting)
                    counts["by_others"] += len(finished)
                    bar.update(len(finished))
    finally:
        bar.close()
        claims.release_all()
    return counts


def _claim(prepared: Prepared, store: RunStore, claims: Claims, lm, cells: list[Cell]):
    """Split `cells` into those this writer now holds and must compute, those another writer holds, and those
    found finished once claimed. In a data-parallel job rank 0 decides and every rank follows."""
    verdicts = None
    if _decides(lm):
        verdicts = []
        for cell in cells:
            key = cell_key(prepared, cell)
            if not claims.claim(key):
                verdicts.append("other")
            elif store.done(key):  # finished by another writer between our look and our claim
                claims.release(key, written=True)
                verdicts.append("done")
            else:
                verdicts.append("mine")
    verdicts = _from_rank0(lm, verdicts)
    split: dict[str, list[Cell]] = {"mine": [], "other": [], "done": []}
    for cell, verdict in zip(cells, verdicts, strict=True):
        split[verdict].append(cell)
    return split["mine"], split["other"], split["done"]


def _wait_for(prepared: Prepared, store: RunStore, claims: Claims, lm, cells: list[Cell]):
    """Wait until no other writer holds each of `cells`; those still not done (their writer died) are
    returned to be claimed and computed, beside those that were finished."""
    verdicts = None
    if _decides(lm):
        verdicts = []
        for cell in cells:
            key = cell_key(prepared, cell)
            claims.wait(key)
            verdicts.append(store.done(key))
            if verdicts[-1]:
                claims.remove(key)
    verdicts = _from_rank0(lm, verdicts)
    left = [cell for cell, done in zip(cells, verdicts, strict=True) if not done]
    return left, [cell for cell, done in zip(cells, verdicts, strict=True) if done]


def _from_rank0(lm, value):
    """`value` as rank 0 has it, on every rank of a data-parallel job (itself otherwise)."""
    if not _distributed():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _decides(lm) -> bool:
    """Whether this process claims cells itself: rank 0, or any process that is not part of a group."""
    return getattr(lm, "rank", 0) == 0 or not _distributed()


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def write_merged_manifest(store: RunStore, current: dict) -> dict:
    """Merge this writer's manifest into the folder's, under the folder's lock (sharing.py)."""
    with folder_lock(store.root):
        merged = merge_manifests(store.manifest(), current)
        store.write_manifest(merged)
    return merged


def _run_group(prepared: Prepared, store: RunStore, lm, claims: Claims, cells: list[Cell], bar, counts: dict,
               managers: dict) -> None:  # fmt: skip
    """Compute the claimed cells of one prefix group as one sweep, releasing each claim once its cell is
    written."""
    from lm_eval.evaluator import evaluate

    config = prepared.config
    first = cells[0]
    template = first.condition.template if first.task.registry is not None else 0
    task_name = first.task.name
    loaded = _task_manager(prepared, managers, first.option_order, first.option_orders, template).load([task_name])
    task = loaded["tasks"][task_name]
    apply_condition(task, first)
    demonstrations = first.arm.shots if first.arm is not None and first.arm.kind == "fewshot" else first.fewshot
    task.set_config(key="num_fewshot", value=demonstrations)
    decoding = decoding_of(prepared, first)
    if decoding:  # N draws per prompt (lm-eval's repeats), seeded by the run's --seed
        kwargs = {**(task.config.generation_kwargs or {}), "do_sample": True}
        task.set_config(key="generation_kwargs", value={**kwargs, "temperature": decoding["temperature"]})
        task.set_config(key="repeats", value=decoding["samples"])
    torch.manual_seed(config.seed)  # a cell decoded on its own (no sweep) draws from --seed as well
    task.set_fewshot_seed(seed=FEWSHOT_SEED + config.seed)
    keys = [cell_key(prepared, cell) for cell in cells]
    checkpoint = partial_path(prepared, store, first)
    settings = {key: interventions_for(prepared, cell) for key, cell in zip(keys, cells, strict=True)}
    lm.plan_sweep(settings, checkpoint, seed=config.seed)  # a task that samples on its own draws from --seed too
    try:
        for key, cell in zip(keys, cells, strict=True):
            bar.set_postfix_str(_short(cell), refresh=False)
            lm.use_setting(key)
            lm.resumed = lm.truncated = None
            # lm-eval draws each item's demonstrations from the task's generator, which runs on across calls:
            # every cell of the group starts it afresh, so all of them (the baseline too) show the same prompts
            task.set_fewshot_seed(seed=FEWSHOT_SEED + config.seed)
            _run_cell(prepared, store, lm, evaluate, loaded, task_name, cell)
            if getattr(lm, "resumed", None) and getattr(lm, "rank", 0) == 0:
                done, total = lm.resumed
                bar.write(f"note: {task_name}: resumed its sweep from {done} of {total} segments done before "
                          "the interruption", file=sys.stderr)  # fmt: skip
            if getattr(lm, "truncated", None) and getattr(lm, "rank", 0) == 0:
                cut, room = lm.truncated
                bar.write(f"note: {task_name}: {len(cut)} prompt(s) are longer than the {room} tokens the model's "
                          "context leaves them and were cut from the left, as lm-eval does (fewer demonstrations or "
                          "shorter prompts keep them whole)", file=sys.stderr)  # fmt: skip
            claims.release(key, written=True)
            counts["computed"] += 1
            bar.update(1)
    finally:
        lm.end_sweep()
    # the group is written: its progress is not needed, nor a write of it torn by a kill (atomic_path's temporary)
    for pattern in (f"{checkpoint.stem}*", f".{checkpoint.stem}*.tmp"):
        for leftover in checkpoint.parent.glob(pattern):
            leftover.unlink(missing_ok=True)


def partial_path(prepared: Prepared, store: RunStore, cell: Cell) -> Path:
    """Where a prefix group's scoring progress is kept while it runs (steering/checkpoint.py): named by the
    keys of all the group's cells in the grid, so the same command resumed finds it."""
    group = sorted(cell_key(prepared, c) for c in prepared.cells if group_of(c) == group_of(cell))
    return store.root / "partial" / f"{hashlib.sha256(' '.join(group).encode()).hexdigest()[:20]}.safetensors"


def _task_manager(prepared: Prepared, managers: dict, order: int, orders: int, template: int):
    """lm-eval's task manager for one option order and template (indexing the task folders is slow: once per
    run, kept in `managers`)."""
    from lm_eval.tasks import TaskManager

    from steer_eval.paths import tasks_dir
    from steer_eval.tasks import template_cache

    template_cache.install()  # lm-eval compiles each prompt template per document otherwise
    config = prepared.config
    paths = [str(tasks_dir())] + ([config.include_path] if config.include_path else [])
    user_tasks = any(cell.task.registry is None for cell in prepared.cells)
    slot = (order, orders, template)
    if slot not in managers:
        managers[slot] = TaskManager(
            include_path=paths,
            include_defaults=user_tasks,
            metadata={"option_order": order, "option_orders": orders, "template": template},
        )
    return managers[slot]


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
        apply_chat_template=shown.chat_template, system_instruction=shown.lmeval_system_instruction,
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
        if not cell.task.scorer:
            score_every_draw(records, samples, task)
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
