"""Stopping cleanly (issue 22): SIGTERM (what a scheduler sends before it kills a job) and SIGHUP (a closed
terminal) are handled like Ctrl-C: the current cell is dropped (cells are written atomically, so nothing half
written stays), and the command ends with one line saying how many cells the run folder keeps and how to
resume, with the signal's conventional exit code (128 + its number)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

HANDLED = ("SIGTERM", "SIGHUP")


class Stopped(BaseException):
    """A handled signal arrived (a BaseException, like KeyboardInterrupt, so no `except Exception` eats it)."""

    def __init__(self, name: str, number: int) -> None:
        super().__init__(name)
        self.name, self.number = name, number


def _raise(number: int, _frame) -> None:
    raise Stopped(signal.Signals(number).name, number)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise `Stopped` (the previous handlers come back afterwards)."""
    previous = {}
    for name in HANDLED:
        number = getattr(signal, name, None)
        if number is not None:
            with suppress(ValueError):  # not the main thread: leave the signal alone
                previous[number] = signal.signal(number, _raise)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def interrupted_line(name: str, output: Path | None) -> str:
    """The one line a stopped command prints: the signal, the cells kept, how to resume."""
    kept = len(list((output / "cells").glob("*.json"))) if output is not None and (output / "cells").is_dir() else 0
    where = f": {kept} cell(s) kept in {output}" if output is not None else ""
    return f"steer-eval: interrupted ({name}){where}, rerun the same command to resume"
