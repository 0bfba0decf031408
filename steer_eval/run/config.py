"""What one `steer-eval --model ... --vectors ...` invocation asks for, parsed and checked (no model yet)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from steer_eval.errors import SteerEvalError
from steer_eval.prompt_format import PromptFormat
from steer_eval.run.shard import Shard
from steer_eval.strengths import SELECTED, Strength, check_strengths
from steer_eval.vocab import PositionMode, parse_enum

DEFAULT_ALPHAS = (-4.0, -2.0, 2.0, 4.0, 8.0)
DEFAULT_TASKS = ("behavior", "intelligence")
CONTROLS = ("random",)
PLACEBO_DRAWS = 5  # --controls random: same-norm random vectors per vector (random:N asks for N)


@dataclass
class RunConfig:
    model: str
    vectors: list[Path]
    tasks: list[str] = field(default_factory=lambda: list(DEFAULT_TASKS))
    # Numbers and `selected` (each vector's validation-selected strength; an error for a vector that
    # recorded none). None: DEFAULT_ALPHAS plus the selected strength of each vector that recorded one.
    alphas: list[Strength] | None = None
    layers: list[int] | None = None  # per-layer vectors: which layers (default: each vector's chosen one)
    positions: list[PositionMode] | None = None  # default: each vector's own mode
    fewshot: list[int] = field(default_factory=lambda: [0])
    option_orders: int = 1  # K rotations of the options (0 .. K-1)
    templates: int = 1  # K prompt templates per task (0 .. K-1; conditions/templates.py)
    pressure: list[str] = field(default_factory=list)  # pressure prompt names, or ["all"]
    turns: list[int] = field(default_factory=list)  # conversation lengths (earlier turns before the item)
    controls: list[str] = field(default_factory=list)
    combine: bool = False  # also run all vectors together (each at its own layer), for interactions
    pairs: str = ""  # `--combine pairs` or A+B[,C+D]: factorial pairs (run/combinations.py)
    prompt_arms: list[tuple[str, str]] = field(default_factory=list)  # (name, instruction); ("declared", "")
    fewshot_arms: list[int] = field(default_factory=list)  # demonstrations per few-shot arm
    scorers: dict[str, str] = field(default_factory=dict)  # generation task (or "*": all) -> scorer name
    samples: int = 1  # generations per prompt: 1 decodes greedily, more sample at `temperature`
    prompt_format: PromptFormat = field(default_factory=PromptFormat)  # plain, or the chat template (+ system)
    temperature: float = 1.0
    limit: int | None = None
    seed: int = 0
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: str = "auto"  # the largest batch that fits (steering/batching.py)
    prefix_reuse: bool = True  # sweeps replay only the blocks from the first steered one (same numbers)
    model_args: dict[str, object] = field(default_factory=dict)
    data_dir: str | None = None
    include_path: str | None = None
    output: Path = Path("reports/run")
    command: str = ""
    reuse: list[Path] = field(default_factory=list)  # run stores whose finished cells are copied, not recomputed
    shard: Shard | None = None  # --shard I/N: compute only this part of the grid (run/shard.py)

    @property
    def strengths(self) -> list[Strength]:
        """The strengths asked for, `selected` included (the default grid ends with it)."""
        return list(self.alphas) if self.alphas is not None else [*DEFAULT_ALPHAS, SELECTED]

    @property
    def placebo_draws(self) -> int:
        """How many same-norm random vectors each vector gets (0: no placebo)."""
        draws = 0
        for control in self.controls:
            name, _, count = control.partition(":")
            if name != "random":
                continue
            if not count:
                draws = max(draws, PLACEBO_DRAWS)
                continue
            if not count.isdigit() or int(count) < 1:
                raise SteerEvalError(
                    f"--controls {control!r}: N in random:N must be a whole number >= 1, e.g. random:5"
                )
            draws = max(draws, int(count))
        return draws

    @property
    def selected_required(self) -> bool:
        """`selected` was asked for explicitly: a vector without a recorded selection is an error."""
        return self.alphas is not None and SELECTED in self.alphas

    def check(self) -> None:
        if not self.vectors:
            raise SteerEvalError("--vectors needs at least one vector file")
        if self.alphas is not None and not self.alphas:
            raise SteerEvalError("--alphas is empty")
        check_strengths(self.strengths, "--alphas")
        if self.option_orders < 1:
            raise SteerEvalError(f"--option-orders must be at least 1 (got {self.option_orders})")
        if self.templates < 1:
            raise SteerEvalError(
                f"--templates must be at least 1 (got {self.templates}); 1 runs each task's own format"
            )
        if any(n < 0 for n in self.turns):
            raise SteerEvalError(f"--turns values must be >= 0 (got {','.join(map(str, self.turns))})")
        if any(n < 0 for n in self.fewshot):
            raise SteerEvalError("--fewshot values must be >= 0")
        if self.limit is not None and self.limit < 1:
            raise SteerEvalError("--limit must be at least 1")
        unknown = sorted({c.partition(":")[0] for c in self.controls} - set(CONTROLS))
        if unknown:
            raise SteerEvalError(
                f"unknown control(s) {', '.join(unknown)}; controls are random or random:N (N same-norm draws)"
            )
        self.placebo_draws  # noqa: B018 (checks random:N)
        if self.samples < 1:
            raise SteerEvalError(f"--samples must be at least 1 (got {self.samples}); 1 decodes greedily")
        if not (self.temperature > 0 and self.temperature < float("inf")):
            raise SteerEvalError(f"--temperature must be a positive number (got {self.temperature})")
        from steer_eval.run.arms import check_fewshot_arms

        check_fewshot_arms(self.fewshot_arms)
        if self.combine and len(self.vectors) < 2:
            raise SteerEvalError("--combine needs at least two vectors")
        if self.pairs:
            from steer_eval.run.combinations import check_spec

            check_spec(self.pairs, len(self.vectors))
        if self.batch_size != "auto" and not (self.batch_size.isdigit() and int(self.batch_size) > 0):
            raise SteerEvalError(f"--batch-size must be 'auto' or a positive integer, not {self.batch_size!r}")
        from steer_eval.models import pick_device, pick_dtype

        pick_dtype(self.dtype, pick_device(self.device))  # before any compute, and in a dry run too


def parse_list(text: str | None, convert, option: str, example: str) -> list | None:
    if text is None:
        return None
    try:
        values = [convert(part.strip()) for part in text.split(",") if part.strip()]
    except (ValueError, SteerEvalError) as exc:
        detail = f" ({exc})" if isinstance(exc, SteerEvalError) else ""
        raise SteerEvalError(f"{option} {text!r} is not a comma-separated list like {example}{detail}") from None
    if not values:
        raise SteerEvalError(f"{option} is empty; give e.g. {example}")
    return values


def parse_positions(text: str | None) -> list[PositionMode] | None:
    return parse_list(text, lambda v: parse_enum(PositionMode, v, "position mode"), "--positions", "all,last_prompt")


def parse_model_args(text: str | None) -> dict[str, object]:
    """lm-eval's `key=value,key=value` model arguments."""
    if not text:
        return {}
    from lm_eval.utils import simple_parse_args_string

    try:
        return dict(simple_parse_args_string(text))
    except ValueError as exc:
        raise SteerEvalError(f"--model-args {text!r}: {exc}; use key=value,key=value") from None


def split_selectors(values: Sequence[str] | None) -> list[str]:
    if not values:
        return list(DEFAULT_TASKS)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


ALL_TASKS = "*"


def parse_scorers(values: Sequence[str] | None) -> dict[str, str]:
    """`--scorer NAME` (every generation task) and `--scorer TASK=NAME` (one task) as {task or '*': name}."""
    out: dict[str, str] = {}
    for value in values or []:
        task, sep, name = value.partition("=")
        task, name = (task.strip(), name.strip()) if sep else (ALL_TASKS, value.strip())
        if not name or not task:
            raise SteerEvalError(f"--scorer {value!r}: give NAME or TASK=NAME, e.g. --scorer refusal")
        if task in out:
            raise SteerEvalError(f"--scorer names two scorers for {'every task' if task == ALL_TASKS else task}")
        out[task] = name
    return out


def with_judge_url(scorers: dict[str, str], url: str | None) -> dict[str, str]:
    """`--judge-url URL`: every `judge:MODEL` scorer of the run asks the endpoint (`judge:MODEL@URL`)."""
    if not url:
        return scorers
    judges = {task: name for task, name in scorers.items() if name.startswith("judge:") and "@" not in name}
    if not judges:
        raise SteerEvalError("--judge-url needs a judge to send there: add --scorer judge:MODEL (or TASK=judge:MODEL)")
    return {**scorers, **{task: f"{name}@{url}" for task, name in judges.items()}}
