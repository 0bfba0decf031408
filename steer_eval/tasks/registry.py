"""Which labelled tasks steer-eval knows: name, kind (behavior / intelligence), family, which answer is
desired, where the data comes from, and how to load a split as `MCItem`s. Data files are read from a
local folder (`--data-dir` or $STEER_EVAL_DATA) laid out as the datasets' authors distribute them."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.tasks.items import MCItem

DATA_ENV = "STEER_EVAL_DATA"
SPLITS = ("train", "validation", "test")

Loader = Callable[[Path | None], dict[str, list[MCItem]]]


class TaskError(SteerEvalError):
    """An unknown task, a missing data folder or file, or malformed task data."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # "behavior" or "intelligence"
    family: str  # bias, morality, alignment, sentiment, knowledge, reasoning, ...
    desired: str  # which answer the target is, in words
    source: str  # citation and licence
    loader: Loader = lambda _: {}
    data_file: str | None = None  # path under the data folder; None = built in (the demo)

    def load(self, data_dir: str | Path | None = None) -> dict[str, list[MCItem]]:
        folder = None if self.data_file is None else resolve_data_dir(data_dir, self)
        if folder is not None and not (folder / self.data_file).is_file():
            raise TaskError(
                f"task {self.name} needs {self.data_file} under the data folder {folder}, which is missing; "
                f"download it from {self.source.split(';')[0]} and keep the authors' file layout"
            )
        try:
            return self.loader(folder)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise TaskError(f"task {self.name}: malformed data in {folder}/{self.data_file} ({exc})") from None


_REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def all_tasks() -> dict[str, TaskSpec]:
    _load_sources()
    return dict(_REGISTRY)


def get_task(name: str) -> TaskSpec:
    tasks = all_tasks()
    if name not in tasks:
        close = difflib.get_close_matches(name, tasks, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise TaskError(f"unknown task {name!r}; {hint}`steer-eval tasks` lists the {len(tasks)} known tasks")
    return tasks[name]


def load_split(name: str, split: str, data_dir: str | Path | None = None) -> list[MCItem]:
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
    items = get_task(name).load(data_dir).get(split, [])
    if not items:
        raise TaskError(f"task {name} has no items in its {split} split")
    return items


def resolve_data_dir(data_dir: str | Path | None, spec: TaskSpec) -> Path:
    chosen = data_dir or os.environ.get(DATA_ENV)
    if not chosen:
        raise TaskError(
            f"task {spec.name} reads {spec.data_file} from a local data folder; pass --data-dir DIR or set "
            f"{DATA_ENV} (the folder holds the datasets as their authors distribute them)"
        )
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise TaskError(f"data folder {folder} does not exist; pass --data-dir DIR or set {DATA_ENV}")
    return folder


def _load_sources() -> None:
    # Importing a source module registers its tasks.
    from steer_eval.tasks.sources import bbq, caa, demo, truthfulqa  # noqa: F401
