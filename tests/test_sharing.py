"""Several writers in one run folder (issue 22): two commands with overlapping grids started at once compute
each cell once and leave results covering the union; `--shard I/N` parts are disjoint and cover the grid, the
last part writes the results; a claim held by another writer is waited for, and a claim whose writer died is
taken over; a vector rebuilt under the same name replaces its earlier cells in the results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError
from steer_eval.run.shard import Shard, parse_shard, shard_part
from steer_eval.run.sharing import merge_manifests

TASKS = "demo_sentiment,demo_facts"


def _args(vector: Path, output: Path, alphas: str, *extra: str) -> list[str]:
    return ["--model", "demo", "--vectors", str(vector), "--tasks", TASKS, "--alphas", alphas, "--limit", "24",
            "--device", "cpu", "--output", str(output), *extra]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}


def _computed(printed: str) -> tuple[int, int]:
    """(computed here, computed meanwhile by another writer) from a command's coverage line."""
    line = next(line for line in printed.splitlines() if line.startswith("this command"))
    here = int(re.search(r"(\d+) computed here", line)[1])
    others = re.search(r"(\d+) computed meanwhile by another writer", line)
    return here, int(others[1]) if others else 0


@pytest.mark.parametrize("groups", [2, 7])
def test_shard_parts_are_disjoint_cover_the_grid_and_keep_groups_together(groups: int) -> None:
    items = [(g, i) for g in range(groups) for i in range(5 + g)]
    parts = [shard_part(items, Shard(i, 3), lambda item: item[0]) for i in (1, 2, 3)]
    assert sorted(x for part in parts for x in part) == sorted(items)
    assert sum(map(len, parts)) == len(items)
    assert parts == [shard_part(items, Shard(i, 3), lambda item: item[0]) for i in (1, 2, 3)], "deterministic"
    if groups >= 3:  # every group in one part, the parts within one group's size of each other
        assert all(len({part_of for part_of, part in enumerate(parts) for x in part if x[0] == g}) == 1
                   for g in range(groups))  # fmt: skip
        assert max(map(len, parts)) - min(map(len, parts)) <= 5 + groups
    else:
        assert all(parts), "fewer groups than shards: the cells are dealt out"


@pytest.mark.parametrize("text", ["0/2", "3/2", "a/b", "2"])
def test_a_bad_shard_is_one_line(text: str, mood_vector: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SteerEvalError, match="give I/N"):
        parse_shard(text)
    assert main(_args(mood_vector, tmp_path / "run", "1", "--shard", text, "--dry-run")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--shard" in err, err


def test_manifests_merge_into_the_union_of_their_grids() -> None:
    first = {"command": "a", "grid": {"cells": ["k1", "k2"], "alphas": [1]}, "vectors": {"v": {"sha256": "1"}},
             "tasks": [{"name": "t1"}], "started": "2026-01-02"}  # fmt: skip
    second = {"command": "b", "grid": {"cells": ["k2", "k3"], "alphas": [2]}, "vectors": {"w": {"sha256": "2"}},
              "tasks": [{"name": "t2"}], "started": "2026-01-01"}  # fmt: skip
    merged = merge_manifests(merge_manifests(None, first), second)
    assert merged["grid"]["cells"] == ["k1", "k2", "k3"] and set(merged["vectors"]) == {"v", "w"}
    assert [t["name"] for t in merged["tasks"]] == ["t1", "t2"] and merged["started"] == "2026-01-01"
    assert [g["command"] for g in merged["grids"]] == ["a", "b"]
    again = merge_manifests(merged, {**second, "grid": {"cells": ["k3"], "alphas": [2]}})
    assert [g["command"] for g in again["grids"]] == ["a", "b"], "the same command re-run replaces its entry"


def test_two_writers_started_at_once_compute_each_cell_once(demo_dir, mood_vector: Path, tmp_path: Path) -> None:
    """The issue's case: strengths -2,-1,1,2 and 1,2,4,8 into one folder (2 tasks: 10 cells each, 14 in all)."""
    run = tmp_path / "run"
    commands = [_args(mood_vector, run, alphas) for alphas in ("-2,-1,1,2", "1,2,4,8")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "steer_eval", *args],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    counts = [_computed(out) for out, _ in outputs]
    assert sum(here for here, _ in counts) == 14, counts  # every cell of the union once
    effects = pd.read_csv(run / "effects.csv")
    assert sorted(set(effects.alpha)) == [-2, -1, 1, 2, 4, 8] and len(effects) == 12
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["grid"]["cells"]) == 14 and len(manifest["grids"]) == 2
    assert not list((run / "claims").glob("*.lock")), "claims of written cells are removed"
    assert any("the folder holds 14 cells from 2 command(s)" in out for out, _ in outputs), "the last one says"


def test_two_shards_cover_the_grid_and_the_last_writes_the_results(mood_vector: Path, tmp_path: Path, capsys):
    run = tmp_path / "run"
    assert main(_args(mood_vector, run, "1,2", "--shard", "1/2", "--dry-run")) == 0
    assert "shard 1/2: 3 of the grid's 6 cells" in capsys.readouterr().out
    assert main(_args(mood_vector, run, "1,2", "--shard", "1/2")) == 0
    first = capsys.readouterr().out
    assert "the last shard to finish writes the results" in first and not (run / "effects.csv").exists()
    assert main(_args(mood_vector, run, "1,2", "--shard", "2/2")) == 0
    second = capsys.readouterr().out
    assert _computed(first)[0] + _computed(second)[0] == 6, (first, second)
    assert len(pd.read_csv(run / "effects.csv")) == 4 and "vector by vector" in second
    shards = [g["shard"] for g in json.loads((run / "manifest.json").read_text())["grids"]]
    assert shards == ["1/2", "2/2"]


def test_a_claim_held_elsewhere_is_waited_for_and_taken_over_when_released(
    demo_dir, mood_vector: Path, tmp_path: Path
) -> None:
    """A claim this test holds stands for another writer computing that cell: the command computes the rest,
    waits, and when the claim goes without the cell being written (its writer died) computes it itself. A
    claim file left on disk by a dead process is not a claim at all."""
    from filelock import FileLock

    from steer_eval.run.config import RunConfig
    from steer_eval.run.execute import cell_key
    from steer_eval.run.prepare import prepare

    run = tmp_path / "run"
    config = RunConfig(model="demo", vectors=[mood_vector], tasks=TASKS.split(","), alphas=[1.0, 2.0], limit=24,
                       device="cpu", output=run)  # fmt: skip
    prepared = prepare(config, progress=False)
    keys = [cell_key(prepared, cell) for cell in prepared.cells]
    (run / "claims").mkdir(parents=True)
    (run / "claims" / f"{keys[0]}.lock").write_text("")  # left by a dead process: no lock on it
    held = FileLock(str(run / "claims" / f"{keys[-1]}.lock"))
    held.acquire()
    process = subprocess.Popen([sys.executable, "-m", "steer_eval", *_args(mood_vector, run, "1,2")], env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while len(list((run / "cells").glob("*.json"))) < len(keys) - 1 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.5)
        time.sleep(2)
        assert process.poll() is None, "it waits for the held cell"
        assert not (run / "cells" / f"{keys[-1]}.json").exists()
    finally:
        held.release()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    assert _computed(out) == (len(keys), 0) and (run / "cells" / f"{keys[-1]}.json").is_file()


def test_a_vector_rebuilt_under_its_name_replaces_its_earlier_cells(mood_vector: Path, tmp_path: Path) -> None:
    import shutil

    from steer_eval.vectors.format import load_vector, save_vector

    run, vector = tmp_path / "run", tmp_path / "mood.safetensors"
    shutil.copyfile(mood_vector, vector)
    assert main(_args(vector, run, "1")) == 0
    before = pd.read_csv(run / "effects.csv")
    rebuilt = load_vector(vector)
    rebuilt.directions = {key: -tensor for key, tensor in rebuilt.directions.items()}  # the other way round
    save_vector(rebuilt, vector)
    assert main(_args(vector, run, "1")) == 0
    after = pd.read_csv(run / "effects.csv")
    assert len(after) == len(before) == 2, after
    mood = after.set_index("task").loc["demo_sentiment"]
    assert mood.delta < 0 < before.set_index("task").loc["demo_sentiment"].delta, "the results read the new vector"


def test_a_folder_that_is_not_a_run_folder_or_of_a_later_format_is_refused(mood_vector: Path, tmp_path: Path, capsys):
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("my work")
    assert main(_args(mood_vector, foreign, "1")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a steer-eval run folder" in err and "thesis.tex" in err, err
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"], "nothing written into it"
    later = tmp_path / "later"
    later.mkdir()
    (later / "manifest.json").write_text(json.dumps({"steer_eval_run": 99, "grid": {"cells": []}}))
    assert main(_args(mood_vector, later, "1")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run format 99" in err and "upgrade steer-eval" in err, err


def test_a_full_disk_is_one_line_and_keeps_the_finished_cells(mood_vector: Path, tmp_path: Path, capsys, monkeypatch):
    import errno

    from steer_eval.run.store import RunStore

    write = RunStore.write_cell
    written: list[str] = []

    def filling_up(self, key, content):
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.cell_path(key)))
        write(self, key, content)
        written.append(key)

    run = tmp_path / "run"
    monkeypatch.setattr(RunStore, "write_cell", filling_up)
    assert main(_args(mood_vector, run, "1,2")) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("steer-eval: error: No space left on device") and "finished cells are kept" in err, err
    assert sorted(p.stem for p in (run / "cells").glob("*.json")) == sorted(written)
    monkeypatch.setattr(RunStore, "write_cell", write)
    assert main(_args(mood_vector, run, "1,2")) == 0
    assert "4 computed here, 2 already there" in capsys.readouterr().out


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(mood_vector: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(_args(mood_vector, run, "1", "--dry-run")) == 0
    run.chmod(0o555)
    (run / "cells").chmod(0o555)
    try:
        assert main(_args(mood_vector, run, "1")) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "not writable" in err, err
    finally:
        (run / "cells").chmod(0o755)
        run.chmod(0o755)
