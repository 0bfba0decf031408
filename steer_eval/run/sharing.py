"""Several writers in one run folder (issue 22): cell claims, the folder lock and the manifest of every grid.

- **Claims.** Before computing a cell a writer claims it: an exclusive lock on `claims/KEY.lock`, taken
  without waiting (filelock; on POSIX an `fcntl` lock). A cell claimed by another writer is left to it and
  waited for at the end; the lock dies with its process, so a writer that was killed leaves no claim behind
  (a claim file left on disk is only a file) and its cells are reclaimed. After taking a claim the writer
  looks at the cell again: another writer may have finished it in between, and then it is not recomputed.
- **The folder lock** (`.steer-eval.lock`) serialises what every writer rewrites: the manifest and the results
  (effects.csv, cells.csv, results.json, report), which are rebuilt from all the cells present.
- **The manifest of every grid.** A writer merges its grid into the folder's manifest instead of replacing
  it: `grids` lists each command that wrote into the folder and what it covers; `grid.cells`, `vectors`,
  `tasks` and `pairs` are the union, so the results describe every writer's cells. A vector file rebuilt
  under the same name replaces the old entry: cells of its earlier content stay on disk but leave the union
  (the analysis reads the cells of each vector's current content; load.py).

Locks are advisory `fcntl` locks: they hold between processes on one machine and on network file systems
that support POSIX locks (NFSv4, Lustre and GPFS mounted with locking); docs/running.md says more.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from steer_eval.errors import SteerEvalError

FOLDER_LOCK = ".steer-eval.lock"
CLAIMS = "claims"
FOLDER_LOCK_TIMEOUT = 600.0  # seconds: rebuilding the results of a 10,000-cell folder fits well inside


@contextmanager
def folder_lock(root: Path, timeout: float = FOLDER_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the folder's lock while rewriting the manifest or the results."""
    lock = FileLock(str(Path(root) / FOLDER_LOCK))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise SteerEvalError(
            f"{root}: another steer-eval writer has held the folder's lock ({FOLDER_LOCK}) for {timeout:.0f} s; "
            "if no other steer-eval runs into this folder, the file system may not support locks (docs/running.md)"
        ) from None
    except OSError as exc:
        raise SteerEvalError(f"{root}: cannot lock the run folder ({exc.strerror or exc}); is it writable?") from None
    try:
        yield
    finally:
        lock.release()


class Claims:
    """The cells this writer has claimed in one run folder."""

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / CLAIMS
        self.held: dict[str, FileLock] = {}

    def _lock(self, key: str) -> FileLock:
        return FileLock(str(self.folder / f"{key}.lock"))

    def claim(self, key: str) -> bool:
        """Claim `key`; False at once when another writer holds it."""
        if key in self.held:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = self._lock(key)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self.held[key] = lock
        return True

    def release(self, key: str, written: bool = False) -> None:
        """Give the claim up. Its file is removed only once the cell is `written`: a writer blocked on it then
        finds the cell done; removing it earlier could let two writers hold claims on two files of one cell."""
        lock = self.held.pop(key, None)
        if lock is None:
            return
        lock.release()
        if written:
            self.remove(key)

    def remove(self, key: str) -> None:
        """Remove the claim file of a cell that is written (never of one that is not: see `release`)."""
        with suppress(OSError):
            os.unlink(self.folder / f"{key}.lock")

    def wait(self, key: str) -> None:
        """Block until no other writer holds `key` (it finished the cell, or died), holding nothing after:
        waiting while holding another claim could deadlock two writers."""
        if key in self.held:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = self._lock(key)
        lock.acquire()
        lock.release()

    def release_all(self) -> None:
        for key in list(self.held):
            self.release(key)


def writer() -> str:
    """Who writes: host and process, as a grid entry records it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def grid_entry(current: dict[str, Any], counts: dict[str, int] | None) -> dict[str, Any]:
    """What one command's grid covers, as the manifest's `grids` lists it."""
    grid = current.get("grid") or {}
    return {
        "command": current.get("command"),
        "writer": writer(),
        "started": current.get("started"),
        "finished": current.get("finished"),
        "shard": grid.get("shard"),
        "alphas": grid.get("alphas"),
        "vectors": sorted(current.get("vectors") or {}),
        "tasks": [task.get("name") for task in current.get("tasks") or []],
        "cells": len(grid.get("cells") or []),
        "counts": counts,
    }


def merge_manifests(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """`current` (this writer's manifest) merged into the folder's: unions of cells, vectors, tasks and pairs,
    and `grids` with this writer's entry added (or updated: the same command re-run replaces its entry)."""
    if not previous or not isinstance(previous.get("grid"), dict):
        return {**current, "grids": [grid_entry(current, current.get("counts"))]}
    merged = dict(current)
    vectors = {**(previous.get("vectors") or {}), **(current.get("vectors") or {})}
    merged["vectors"] = vectors
    tasks = {task["name"]: task for task in previous.get("tasks") or [] if isinstance(task, dict)}
    tasks.update({task["name"]: task for task in current.get("tasks") or []})
    merged["tasks"] = list(tasks.values())
    pairs = {pair.get("pair"): pair for pair in previous.get("pairs") or [] if isinstance(pair, dict)}
    pairs.update({pair.get("pair"): pair for pair in current.get("pairs") or []})
    merged["pairs"] = list(pairs.values())
    cells = list(dict.fromkeys([*(previous["grid"].get("cells") or []), *current["grid"]["cells"]]))
    merged["grid"] = {**current["grid"], "cells": cells}
    merged["started"] = min(filter(None, [previous.get("started"), current.get("started")]), default=None)
    entry = grid_entry(current, current.get("counts"))
    grids = [g for g in previous.get("grids") or [] if isinstance(g, dict)]
    if not grids:  # a folder written before `grids` existed: its one grid, as far as its manifest tells
        grids = [grid_entry(previous, previous.get("counts"))]
    same = [i for i, g in enumerate(grids) if (g.get("command"), g.get("shard")) == (entry["command"], entry["shard"])]
    if same:
        grids[same[-1]] = entry
    else:
        grids.append(entry)
    merged["grids"] = grids
    for key in ("train_overlap",):  # the analysis rewrites these for the union
        merged.pop(key, None)
    return merged
