"""The main job end to end on the demo model: the grid and its shared baselines, the run store and its
manifest, resuming (also after kill -9) with results identical to an uninterrupted run, and bad arguments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError
from steer_eval.run.config import RunConfig
from steer_eval.run.main import run
from steer_eval.tasks import load_split
from steer_eval.vectors.build import BuildSpec, build_vector
from steer_eval.vectors.format import save_vector
from steer_eval.vocab import PositionMode


@pytest.fixture(scope="module")
def demo_vector(demo_dir: Path, tmp_path_factory) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(demo_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(demo_dir)
    vector = build_vector(
        model, tokenizer, BuildSpec("pasf", "demo_sentiment", [1, 2]), load_split("demo_sentiment", "train"), "demo"
    )
    return save_vector(vector, tmp_path_factory.mktemp("vectors") / "sentiment-pasf.safetensors")


def _config(vector: Path, output: Path, **overrides) -> RunConfig:
    settings = dict(
        model="demo",
        vectors=[vector],
        tasks=["demo_sentiment", "demo_facts"],
        alphas=[-2.0, 2.0],
        controls=["random:1"],
        limit=24,
        device="cpu",
        output=output,
    )
    settings.update(overrides)
    return RunConfig(**settings)


def _records(folder: Path) -> dict[str, list]:
    return {p.name: json.loads(p.read_text())["records"] for p in sorted((folder / "cells").glob("*.json"))}


def test_grid_store_manifest_and_resume(demo_vector: Path, tmp_path: Path) -> None:
    result = run(_config(demo_vector, tmp_path / "run"), progress=False)
    # 2 tasks x (1 baseline + (vector + control) x 2 strengths)
    assert result.counts == {"cells": 10, "already_done": 0, "computed": 10, "reused": 0, "by_others": 0}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "demo" and len(manifest["model"]["config_sha256"]) == 64
    assert manifest["versions"]["torch"] and manifest["versions"]["lm-eval"] and manifest["finished"]
    assert {v["control_of"] for v in manifest["vectors"].values()} == {None, "sentiment-pasf.safetensors"}
    assert len(manifest["grid"]["cells"]) == 10
    cells = [json.loads(p.read_text()) for p in (tmp_path / "run" / "cells").glob("*.json")]
    baselines = [c for c in cells if c["cell"]["vector"] is None]
    assert len(baselines) == 2  # one per task, shared by every vector and strength
    for content in cells:
        assert len(content["records"]) == 24
        record = content["records"][0]
        assert {"doc_id", "item_id", "doc_hash", "logliks", "chosen", "target", "correct", "propensity"} <= set(record)
        assert record["propensity"] == pytest.approx(
            record["logliks"][record["target"]]
            - max(v for i, v in enumerate(record["logliks"]) if i != record["target"])
        )
    rows = (tmp_path / "run" / "cells.csv").read_text().splitlines()
    assert len(rows) == 11
    again = run(_config(demo_vector, tmp_path / "run"), progress=False)
    assert again.counts["computed"] == 0 and again.counts["already_done"] == 10
    wider = run(_config(demo_vector, tmp_path / "run", alphas=[-2.0, 2.0, 4.0]), progress=False)
    assert wider.counts["computed"] == 4  # only the new strength's cells


def test_cells_of_an_earlier_run_are_reused_not_recomputed(demo_vector: Path, tmp_path: Path, capsys) -> None:
    first = run(_config(demo_vector, tmp_path / "first", alphas=[2.0]), progress=False)
    assert first.counts["computed"] == 6
    config = _config(demo_vector, tmp_path / "second", alphas=[2.0, 4.0], reuse=[tmp_path])
    assert "6 to copy from --reuse" in run(config, progress=False, dry_run=True)
    second = run(config, progress=False)
    # the baselines and the strength-2 cells (vector and control) come from the first run; strength 4 is new
    assert second.counts["reused"] == 6 and second.counts["computed"] == 4
    assert _records(tmp_path / "first").items() <= _records(tmp_path / "second").items()
    assert json.loads((tmp_path / "second" / "manifest.json").read_text())["reused_from"] == [str(tmp_path)]
    other = _config(demo_vector, tmp_path / "third", alphas=[2.0], limit=12, reuse=[tmp_path / "first"])
    assert run(other, progress=False).counts["reused"] == 0  # another limit is another cell
    with pytest.raises(SteerEvalError, match="--reuse"):
        run(_config(demo_vector, tmp_path / "fourth", reuse=[tmp_path / "nowhere"]), progress=False)


def test_steering_changes_the_steered_cells_and_the_baseline_matches_an_unsteered_model(demo_vector, tmp_path) -> None:
    run(_config(demo_vector, tmp_path / "run", tasks=["demo_sentiment"], controls=[]), progress=False)
    cells = {
        json.loads(p.read_text())["cell"]["alpha"]: json.loads(p.read_text())
        for p in (tmp_path / "run" / "cells").glob("*.json")
    }
    base, up = cells[0.0]["records"], cells[2.0]["records"]
    assert [r["item_id"] for r in base] == [r["item_id"] for r in up]
    assert sum(r["propensity"] for r in up) > sum(r["propensity"] for r in base)


def test_killed_run_resumes_to_identical_results(demo_vector: Path, tmp_path: Path) -> None:
    args = ["--model", "demo", "--vectors", str(demo_vector), "--tasks", "demo_sentiment,demo_compare",
            "--alphas", "-2,1,2,4", "--controls", "random:1", "--limit", "40", "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "steer_eval", *args, "--output", str(killed)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and len(list((killed / "cells").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = len(list((killed / "cells").glob("*.json")))
    assert 3 <= partial < 18, "the run should have been killed mid-grid"
    assert main([*args, "--output", str(killed)]) == 0
    assert main([*args, "--output", str(tmp_path / "clean")]) == 0
    assert _records(killed) == _records(tmp_path / "clean")
    assert len(_records(killed)) == 18
    assert not list((killed / "cells").glob(".*.tmp"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tasks", "demo_sentimnt"], "did you mean demo_sentiment"),
        (["--alphas", "1,two"], "--alphas"),
        (["--positions", "middle"], "position mode"),
        (["--fewshot", "x"], "--fewshot"),
        (["--option-orders", "0"], "--option-orders"),
        (["--controls", "shuffled"], "unknown control"),
        (["--batch-size", "big"], "--batch-size"),
        (["--layers", "7"], "layer(s) [7]"),
        (["--prompt-arm", "no equals sign"], "is not NAME=TEXT"),
        (["--prompt-arm", "a=x", "--prompt-arm", "a=y"], "the same name"),
        (["--prompt-arm", "declared"], "none of these tasks declares an instruction"),
        (["--tasks", "demo_mood_gen", "--prompt-arm", "declared", "--prompt-arm", "happy=glad"], "that name too"),
        (["--fewshot-arm", "0"], "at least 1"),
        (["--fewshot-arm", "100000"], "--fewshot-arm 100000: demo_facts has"),
        (["--fewshot", "0,100000"], "--fewshot 100000: demo_facts has"),
        (["--scorer", "demo_moood"], "unknown scorer 'demo_moood'; did you mean demo_mood"),
        (["--scorer", "demo_facts=refusal"], "demo_facts is not a generation task"),
        (["--scorer", "demo_mood_gen=refusal"], "which this run does not have"),
        (["--scorer", "classifier:/no/such/model:positive"], "could not load the classifier"),
        (["--judge-url", "http://localhost:8000/v1"], "--judge-url needs a judge"),
        (["--samples", "0"], "--samples must be at least 1"),
        (["--samples", "3", "--temperature", "0"], "--temperature must be a positive number"),
        (["--temperature", "0.7"], "--samples 1 (the default) decodes greedily"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(demo_vector: Path, tmp_path: Path, capsys, extra, message) -> None:
    args = [
        "--model",
        "demo",
        "--vectors",
        str(demo_vector),
        "--tasks",
        "demo_facts",
        "--output",
        str(tmp_path / "r"),
        *extra,
    ]
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("steer-eval: error:"), err
    assert not (tmp_path / "r" / "cells").exists() or not list((tmp_path / "r" / "cells").iterdir())


def test_missing_vector_file_and_missing_model(tmp_path: Path, capsys) -> None:
    assert main(["--model", "demo", "--vectors", str(tmp_path / "nope.safetensors")]) == EXIT_BAD_INPUT
    assert "not found" in capsys.readouterr().err
    assert main(["--vectors", str(tmp_path / "nope.safetensors")]) == EXIT_BAD_INPUT
    assert "--model" in capsys.readouterr().err


def test_dry_run_counts_the_grid_without_computing(demo_vector: Path, tmp_path: Path, capsys) -> None:
    args = ["--model", "demo", "--vectors", str(demo_vector), "--tasks", "demo", "--alphas", "-4,-2,0,2,4",
            "--fewshot", "0,2", "--option-orders", "2", "--layers", "1,2", "--output", str(tmp_path / "r")]  # fmt: skip
    args.append("--dry-run")
    assert main(args) == 0
    captured = capsys.readouterr()
    out = captured.out
    # (4 tasks x 1 order + demo_sentiment_mc x 2 orders) x 2 few-shot x (1 + 1 vector x 4 non-zero strengths x
    # 2 layers) = 12 x 9: four demo tasks score each answer on its own, so a second option order would repeat
    # the first; the lettered demo_sentiment_mc has one
    assert "grid: 108 cells" in out and "to compute: 108 cells" in out
    assert "demo_sentiment: option order does not exist" in captured.err
    assert not list((tmp_path / "r" / "cells").iterdir())


def test_rival_arms_add_their_cells_to_the_grid(demo_vector: Path, tmp_path: Path, capsys) -> None:
    args = ["--model", "demo", "--vectors", str(demo_vector), "--tasks", "demo_generation", "--alphas", "1,2",
            "--prompt-arm", "declared", "--prompt-arm", "cheer=mood : happy", "--fewshot-arm", "2",
            "--output", str(tmp_path / "r"), "--dry-run"]  # fmt: skip
    assert main(args) == 0
    # per task: baseline + 2 strengths; 2 prompt arms alone and with the vector at 2 strengths; 1 few-shot arm
    out = capsys.readouterr().out
    assert "grid: 20 cells" in out and "+ 14 rival-arm cells" in out


def test_only_rank_zero_writes_in_data_parallel(demo_vector: Path, tmp_path: Path, monkeypatch) -> None:
    """Under `accelerate launch` (several GPUs) every rank runs the grid and lm-eval gathers on rank 0; the
    others get None from `evaluate` and must not write. Simulated here: lm-eval's data parallel needs GPUs."""
    from lm_eval import evaluator

    import steer_eval.run.execute as execute

    class Worker:
        rank, quiet = 1, False

        def plan_sweep(self, settings, checkpoint=None, seed=None) -> None:
            pass

        def use_setting(self, key) -> None:
            pass

        def end_sweep(self) -> None:
            pass

    monkeypatch.setattr(evaluator, "evaluate", lambda **kwargs: None)
    config = _config(demo_vector, tmp_path / "run", tasks=["demo_facts"], controls=[])
    result = run(config, progress=False, lm=Worker())
    assert result.rows == [] and not list((tmp_path / "run" / "cells").glob("*.json"))
    assert not (tmp_path / "run" / "manifest.json").exists()
    assert execute.FEWSHOT_SEED == 1234


def test_model_args_reach_the_model(demo_vector: Path, tmp_path: Path) -> None:
    from steer_eval.run.execute import load_lm
    from steer_eval.run.prepare import prepare

    config = _config(demo_vector, tmp_path / "run", model_args={"max_length": 96}, batch_size="4")
    lm = load_lm(prepare(config, progress=False))
    assert lm.max_length == 96 and lm.batch_size == 4


def test_vector_files_with_the_same_name_are_refused(demo_vector: Path, tmp_path: Path, capsys) -> None:
    import shutil

    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(demo_vector, other / demo_vector.name)
    args = ["--model", "demo", "--vectors", str(demo_vector), str(other / demo_vector.name), "--tasks", "demo_facts"]
    assert main([*args, "--output", str(tmp_path / "r")]) == EXIT_BAD_INPUT
    assert "distinct names" in capsys.readouterr().err


def test_cell_keys_change_with_the_task_data_and_the_dtype(demo_vector: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from steer_eval.run.execute import cell_key
    from steer_eval.run.prepare import prepare

    prepared = prepare(_config(demo_vector, tmp_path / "r", tasks=["demo_facts"], controls=[]), progress=False)
    cell = prepared.cells[1]
    other_data = replace(cell, task=replace(cell.task, data="something else"))
    assert cell_key(prepared, cell) != cell_key(prepared, other_data)
    other_dtype = prepare(
        _config(demo_vector, tmp_path / "r", tasks=["demo_facts"], controls=[], dtype="float32"), progress=False
    )
    assert cell_key(prepared, cell) != cell_key(other_dtype, other_dtype.cells[1])
    assert cell_key(prepared, cell) == cell_key(
        prepare(_config(demo_vector, tmp_path / "r", tasks=["demo_facts"], controls=[]), progress=False), cell
    )


def test_prefix_reuse_gives_the_same_records_as_full_passes(demo_vector: Path, tmp_path: Path) -> None:
    """The sweep (one unsteered pass per batch, replays from the steered block) against every cell scored
    with its own full forward passes, over strengths, two layers, two position modes and a control."""
    grid = dict(alphas=[-2.0, 2.0, 4.0], layers=[1, 2], positions=[PositionMode.ALL, PositionMode.LAST_PROMPT])
    fast = run(_config(demo_vector, tmp_path / "fast", **grid), progress=False)
    slow = run(_config(demo_vector, tmp_path / "slow", prefix_reuse=False, **grid), progress=False)
    assert fast.counts["computed"] == slow.counts["computed"] == 2 * (1 + 2 * 3 * 2 * 2)
    fast_records, slow_records = _records(tmp_path / "fast"), _records(tmp_path / "slow")
    assert fast_records.keys() == slow_records.keys()
    for name, records in fast_records.items():
        for a, b in zip(records, slow_records[name], strict=True):
            assert a["logliks"] == pytest.approx(b["logliks"], abs=1e-5), name
            assert a["chosen"] == b["chosen"]
    distinct = {tuple(records[0]["logliks"]) for records in fast_records.values()}
    assert len(distinct) > 20, "steered cells must differ from the baselines and from one another"


def test_each_task_runs_only_the_option_orders_it_has() -> None:
    from steer_eval.run.grid import Cell, TaskRef, VectorPlan, VectorRef, plan

    def task(name: str, orders: int, output: str = "multiple_choice") -> TaskRef:
        return TaskRef(name, name, "behavior", "x", output, True, "data", orders)

    tasks = [task("binary", 2), task("four", 4), task("gen", 1, "generate_until"), task("user", 1)]
    vector = VectorRef("v", "v.safetensors", "sha")
    cells = plan(tasks, [VectorPlan(vector, [None], [None], [0.0, 2.0])], [0], 3)
    orders = {t.name: sorted({c.option_order for c in cells if c.task == t}) for t in tasks}
    assert orders == {"binary": [0, 1], "four": [0, 1, 2], "gen": [0], "user": [0]}
    assert all(c.option_orders == len(orders[c.task.name]) for c in cells)
    assert len(cells) == 2 * (2 + 3 + 1 + 1)  # a baseline and one steered cell per (task, order)
    # the original order is one cell whatever K is; a rotated order is not (its shift depends on K)
    args = ("demo", None, None, 0)
    assert Cell(tasks[1], 0, 0, option_orders=3).key(*args) == Cell(tasks[1], 0, 0, option_orders=4).key(*args)
    assert Cell(tasks[1], 0, 1, option_orders=3).key(*args) != Cell(tasks[1], 0, 1, option_orders=4).key(*args)


def test_our_lm_eval_names_select_registry_tasks(shared_data: Path) -> None:
    from steer_eval.run.prepare import resolve_tasks

    config = RunConfig(model="demo", vectors=[], tasks=["se_mmlu_stem", "se_bbq_age"], data_dir=str(shared_data))
    refs, _ = resolve_tasks(config)
    assert len(refs) == 20 and all(ref.registry is not None for ref in refs)
    assert {ref.orders for ref in refs} == {3, 4}  # BBQ: three options, MMLU: four


def test_every_cell_of_a_few_shot_group_sees_the_same_prompts(demo_vector: Path, tmp_path: Path, monkeypatch) -> None:
    """With demonstrations, lm-eval draws each item's examples from a generator that runs on across calls;
    unless every cell starts it afresh, the baseline and each steered cell would show other examples (the
    paired comparison would then measure the examples too) and the sweep, whose requests no longer match,
    would be scored again for every cell."""
    from steer_eval.steering.lm_model import SteerEvalLM

    prompts: dict[str, set] = {}
    sweeps = []
    original_tokens, original_sweep = SteerEvalLM._loglikelihood_tokens, SteerEvalLM._score_sweep

    def recording_tokens(self, requests, *args, **kwargs):
        prompts[self._setting] = {tuple(context) for _, context, _ in requests}
        return original_tokens(self, requests, *args, **kwargs)

    def counting_sweep(self, *args, **kwargs):
        sweeps.append(len(self._sweep.pending()))
        return original_sweep(self, *args, **kwargs)

    monkeypatch.setattr(SteerEvalLM, "_loglikelihood_tokens", recording_tokens)
    monkeypatch.setattr(SteerEvalLM, "_score_sweep", counting_sweep)
    config = _config(demo_vector, tmp_path / "run", tasks=["demo_sentiment"], fewshot=[3], alphas=[1.0, 2.0])
    run(config, progress=False)
    assert len(prompts) == 5 and len({frozenset(p) for p in prompts.values()}) == 1, "one set of prompts"
    assert sweeps == [5], "one sweep scores every cell of the group"
