"""The expectations file (YAML) and its validation. Every key is checked: a typo is an error that names it
(with the closest known key), never a silently skipped expectation.

    model: demo                      # hub id, local folder or demo
    model_args: {}                   # optional, lm-eval style
    vectors: {bias: vectors/bias.safetensors}      # paths relative to this file
    defaults: {limit: 200, seed: 0}  # also: fewshot, option_orders, data_dir, include_path, device, dtype, batch_size
    expect:
      - {vector: bias, task: bbq_age, alpha: 4, improves: {min_delta: 0.03, q: 0.05}}
      - {vector: bias, task: mmlu, alpha: 4, not_worse: {margin: 0.01}}   # a group: judged pooled
      - {vector: bias, task: bbq_age, alpha: selected, no_artifact: true}   # the vector's validation-selected strength
    baseline: runs/main              # optional: a previous run folder (or its results.json)
    regression: {max_drop: 0.02}     # with a baseline: an effect may not fall by more than this, significantly
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from steer_eval.errors import SteerEvalError
from steer_eval.strengths import SELECTED
from steer_eval.vocab import PositionMode, parse_enum

TOP_KEYS = {"model", "model_args", "revision", "vectors", "defaults", "expect", "baseline", "regression"}
DEFAULT_KEYS = {
    "limit",
    "seed",
    "fewshot",
    "option_orders",
    "data_dir",
    "include_path",
    "device",
    "dtype",
    "batch_size",
}
EXPECT_KEYS = {"name", "vector", "task", "alpha", "layer", "positions", "improves", "not_worse", "no_artifact"}
CHECK_KEYS = {"improves": {"min_delta", "q"}, "not_worse": {"margin"}}
REGRESSION_KEYS = {"max_drop", "q"}


class SpecError(SteerEvalError):
    """A malformed expectations file."""


@dataclass
class Expectation:
    name: str
    vector: str
    task: str
    alpha: float
    layer: int | None = None
    positions: str | None = None
    improves: dict[str, float] | None = None
    not_worse: dict[str, float] | None = None
    no_artifact: bool = False
    pooled: bool = False  # `task` names several registry tasks (a group, family or kind): judged pooled
    selected: bool = False  # `alpha: selected`: `alpha` is the vector's validation-selected strength


@dataclass
class CheckSpec:
    path: Path
    model: str
    vectors: dict[str, Path]
    expect: list[Expectation]
    model_args: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    baseline: Path | None = None
    regression: dict[str, float] | None = None


def _unknown(keys: set[str], known: set[str], where: str) -> None:
    for key in sorted(keys - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"{where}: unknown key {key!r}{hint}; known keys: {', '.join(sorted(known))}")


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where} must be a number, not {value!r}")
    if not math.isfinite(value):  # YAML's .nan and .inf are numbers, but no threshold or strength
        raise SpecError(f"{where} must be a finite number, not {value!r}")
    return float(value)


def _selected_alpha(path: Path, where: str) -> float:
    """`alpha: selected`: the strength the vector's validation sweep chose, read from its file. Only
    steer-eval's own files record a selection; any other format has none."""
    from steer_eval.strengths import no_selection
    from steer_eval.vectors.format import load_vector
    from steer_eval.vectors.select import recorded_selection

    chosen = recorded_selection(load_vector(path), str(path)) if path.suffix == ".safetensors" else None
    if chosen is None:
        raise no_selection(f"{where} ({path})", "alpha:")
    return chosen.alpha


def load_spec(path: str | Path) -> CheckSpec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"expectations file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    raw = _mapping(raw, str(path))
    _unknown(set(raw), TOP_KEYS, str(path))
    for key in ("model", "vectors", "expect"):
        if key not in raw:
            raise SpecError(f"{path}: missing required key {key!r}")
    here = path.parent
    vectors = {}
    for name, file in _mapping(raw["vectors"], f"{path}: vectors").items():
        full = (here / str(file)).resolve()
        if not full.is_file():
            raise SpecError(f"{path}: vector {name!r} file not found: {full}")
        vectors[str(name)] = full
    defaults = _mapping(raw.get("defaults") or {}, f"{path}: defaults")
    _unknown(set(defaults), DEFAULT_KEYS, f"{path}: defaults")
    _check_defaults(defaults, f"{path}: defaults")
    if not isinstance(raw["expect"], list) or not raw["expect"]:
        raise SpecError(f"{path}: expect must be a non-empty list of expectations")
    expectations = [_expectation(item, i, vectors, path) for i, item in enumerate(raw["expect"])]
    regression = raw.get("regression")
    if regression is not None:
        regression = _mapping(regression, f"{path}: regression")
        _unknown(set(regression), REGRESSION_KEYS, f"{path}: regression")
        regression = {k: _number(v, f"{path}: regression.{k}") for k, v in regression.items()}
        regression.setdefault("q", 0.05)
        if "max_drop" not in regression:
            raise SpecError(f"{path}: regression needs max_drop")
        _probability(regression["q"], f"{path}: regression.q")
        if not 0 <= regression["max_drop"] < 1:
            raise SpecError(
                f"{path}: regression.max_drop is a share of items, in [0, 1): not {regression['max_drop']:g}"
            )
    baseline = None
    if raw.get("baseline") is not None:
        baseline = (here / str(raw["baseline"])).resolve()
        if not baseline.exists():
            raise SpecError(f"{path}: baseline {baseline} does not exist (a run folder or its results.json)")
        if regression is None:
            raise SpecError(
                f"{path}: a baseline needs `regression: {{max_drop: ...}}` to say what counts as a regression"
            )
    _check_tasks(expectations, path, defaults.get("include_path"))
    return CheckSpec(
        path=path,
        model=str(raw["model"]),
        vectors=vectors,
        expect=expectations,
        model_args=_mapping(raw.get("model_args") or {}, f"{path}: model_args"),
        revision=raw.get("revision"),
        defaults=defaults,
        baseline=baseline,
        regression=regression,
    )


def _whole(value: Any, where: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SpecError(f"{where} must be a whole number >= {least}, not {value!r}")
    return value


def _check_defaults(defaults: dict, where: str) -> None:
    """Values, not just keys: a bad value here would otherwise surface as a crash mid-run."""
    for key, least in (("limit", 1), ("seed", 0), ("fewshot", 0), ("option_orders", 1)):
        if key in defaults and defaults[key] is not None:
            _whole(defaults[key], f"{where}.{key}", least)
    for key in ("data_dir", "include_path", "device"):
        if key in defaults and not isinstance(defaults[key], str):
            raise SpecError(f"{where}.{key} must be a string, not {defaults[key]!r}")
    dtypes = ("auto", "float32", "float16", "bfloat16")
    if "dtype" in defaults and defaults["dtype"] not in dtypes:
        raise SpecError(f"{where}.dtype must be one of {', '.join(dtypes)}, not {defaults['dtype']!r}")
    batch = defaults.get("batch_size", "auto")
    if batch != "auto":
        _whole(batch, f"{where}.batch_size (or auto)", 1)


def _probability(value: float, where: str) -> float:
    if not 0 < value <= 1:
        raise SpecError(f"{where} must be a level in (0, 1], not {value:g}")
    return value


def _expectation(item: Any, index: int, vectors: dict[str, Path], path: Path) -> Expectation:
    where = f"{path}: expect[{index}]"
    item = _mapping(item, where)
    _unknown(set(item), EXPECT_KEYS, where)
    for key in ("vector", "task", "alpha"):
        if key not in item:
            raise SpecError(f"{where}: missing required key {key!r}")
    if item["vector"] not in vectors:
        raise SpecError(f"{where}: vector {item['vector']!r} is not one of the file's vectors ({', '.join(vectors)})")
    checks = {}
    for check, keys in CHECK_KEYS.items():
        if check in item:
            value = _mapping(item[check], f"{where}.{check}")
            _unknown(set(value), keys, f"{where}.{check}")
            checks[check] = {k: _number(v, f"{where}.{check}.{k}") for k, v in value.items()}
    if "improves" in checks:
        checks["improves"].setdefault("min_delta", 0.0)
        checks["improves"].setdefault("q", 0.05)
        _probability(checks["improves"]["q"], f"{where}.improves.q")
    if "not_worse" in checks and "margin" not in checks["not_worse"]:
        raise SpecError(f"{where}.not_worse needs a margin")
    if "not_worse" in checks and not 0 <= checks["not_worse"]["margin"] < 1:
        raise SpecError(
            f"{where}.not_worse.margin is a share of items, in [0, 1): not {checks['not_worse']['margin']:g}"
        )
    no_artifact = item.get("no_artifact", False)
    if not isinstance(no_artifact, bool):
        raise SpecError(f"{where}.no_artifact must be true or false")
    if not checks and not no_artifact:
        raise SpecError(f"{where}: says nothing to check; add improves, not_worse or no_artifact")
    selected = isinstance(item["alpha"], str) and item["alpha"].strip().lower() == SELECTED
    if selected:
        alpha = _selected_alpha(vectors[item["vector"]], f"{where}: vector {item['vector']!r}")
    else:
        alpha = _number(item["alpha"], f"{where}.alpha (a number or {SELECTED!r})")
    if alpha == 0:
        raise SpecError(f"{where}: alpha 0 is the unsteered baseline; expectations are about a steered strength")
    strength = f"{alpha:g} (selected)" if selected else f"{alpha:g}"
    name = str(item.get("name") or f"{item['vector']} x{strength} on {item['task']}")
    layer = item.get("layer")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise SpecError(f"{where}.layer must be an integer")
    if item.get("positions") is not None:
        try:
            parse_enum(PositionMode, item["positions"], "position mode")
        except SteerEvalError as exc:
            raise SpecError(f"{where}.positions: {exc}") from None
    return Expectation(
        name,
        str(item["vector"]),
        str(item["task"]),
        alpha,
        layer,
        item.get("positions"),
        checks.get("improves"),
        checks.get("not_worse"),
        no_artifact,
        selected=selected,
    )


def _check_tasks(expectations: list[Expectation], path: Path, include_path: str | None) -> None:
    """Every `task` is a registry task, group, family or kind (also as its lm-eval name `se_...`); with
    `include_path`, other names are left for lm-eval to resolve (an unknown one fails before any compute)."""
    from steer_eval.tasks.registry import all_tasks, as_selector, select_tasks

    for expectation in expectations:
        name = as_selector(expectation.task)
        if name is None:
            if include_path:
                continue
            known = {s for spec in all_tasks().values() for s in (spec.name, spec.family, spec.kind, *spec.groups)}
            close = difflib.get_close_matches(expectation.task, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(
                f"{path}: unknown task {expectation.task!r}{hint}; a task, group, family or kind of `steer-eval "
                "tasks`, or set defaults.include_path for your own lm-eval tasks"
            )
        members = select_tasks([name])
        if all(spec.target_is_desired is None for spec in members):
            raise SpecError(
                f"{path}: {expectation.name}: {name} holds only probes (no answer is wanted), so nothing can "
                "improve or get worse there"
            )
        expectation.task = name
        expectation.pooled = len(members) > 1
