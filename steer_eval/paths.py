"""Where steer-eval finds its shipped task definitions and keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "STEER_EVAL_CACHE"


def tasks_dir() -> Path:
    """The lm-eval task folder: inside the wheel (`steer_eval/_tasks`) or, in a source checkout, `tasks/`."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_tasks", package.parent / "tasks"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"steer-eval's task folder is missing (looked in {package / '_tasks'}); reinstall steer-eval"
    )


def cache_dir() -> Path:
    """Root of steer-eval's caches: $STEER_EVAL_CACHE, else $XDG_CACHE_HOME/steer-eval, else ~/.cache/steer-eval."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "steer-eval"
