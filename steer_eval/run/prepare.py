"""Everything a run checks before the first forward pass: the model's structure (from its config, no
weights), every vector against it, the layers and position modes asked for, every task's data, and the grid.
Random controls are made here too, saved in the run folder so a re-run reuses the same ones."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from steer_eval.conditions.levels import task_conditions
from steer_eval.conditions.pressure import declared as declared_pressure
from steer_eval.conditions.templates import declared_count, user_templates
from steer_eval.errors import SteerEvalError
from steer_eval.models import model_path, same_model
from steer_eval.prompt_format import PromptFormat
from steer_eval.run.adapters import check_adapter
from steer_eval.run.arms import DECLARED, task_arms
from steer_eval.run.combinations import all_together, check_pair, pair_plans, resolve_pairs
from steer_eval.run.config import ALL_TASKS, RunConfig
from steer_eval.run.grid import Cell, TaskRef, VectorPlan, VectorRef, orders_for, plan
from steer_eval.scoring import get_scorer
from steer_eval.steering.model_map import ModelMap
from steer_eval.strengths import resolve
from steer_eval.tasks.items import distinct_option_orders
from steer_eval.tasks.lmeval_adapter import lmeval_name
from steer_eval.tasks.registry import DATA_ENV, TaskError, all_tasks, as_selector, get_task, select_tasks
from steer_eval.tasks.user_options import declared_options, option_count
from steer_eval.vectors.control import random_like
from steer_eval.vectors.files import read_vector_file
from steer_eval.vectors.format import SteeringVector, content_sha256, file_sha256, load_vector, save_vector
from steer_eval.vectors.recipes import Recipe, build_recipe, parse_recipe
from steer_eval.vectors.select import Selected, recorded_selection
from steer_eval.vocab import PositionMode


@dataclass
class Prepared:
    config: RunConfig
    model_path: str
    model_map: ModelMap
    vectors: dict[str, SteeringVector]  # by VectorRef.sha256
    tasks: list[TaskRef]
    cells: list[Cell]
    user_warnings: list[str]
    plans: list[VectorPlan] = field(default_factory=list)  # each vector's strengths, layers, modes
    # vector label -> the layer and strength chosen on validation (a control: its reference's, the
    # strength it runs at); vectors that recorded none are absent. The manifest carries it to the analysis.
    selections: dict[str, Selected] = field(default_factory=dict)
    # `--combine pairs`: per pair, its members, layers, placebo pair and geometry (run/combinations.py)
    pairs: list[dict] = field(default_factory=list)


def prepare(config: RunConfig, progress: bool = True) -> Prepared:
    config.check()
    path = model_path(config.model, progress)
    model_map = ModelMap.from_config_only(path, revision=config.revision)
    check_adapter(config.model_args, config.model, path)
    if config.data_dir:
        os.environ[DATA_ENV] = str(config.data_dir)  # lm-eval's dataset hook reads the folder from here
    names = [Path(file).name for file in config.vectors]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SteerEvalError(
            f"two vector files are named {repeated[0]}; results are labelled by file name, so give them distinct names"
        )
    vectors: dict[str, SteeringVector] = {}
    plans: list[VectorPlan] = []
    selections: dict[str, Selected] = {}
    modes: list[PositionMode | None] = list(config.positions) if config.positions else [None]
    format_notes: list[str] = []
    if config.prompt_format.chat_template:
        _check_chat_template(path, config)
    recipes = [parse_recipe(str(file)) for file in config.vectors]  # checked before any is built
    files = [
        file if recipe is None else _built(recipe, config, progress)
        for file, recipe in zip(config.vectors, recipes, strict=True)
    ]
    read = [read_vector_file(file, model_map.key_for_hookpoint) for file in files]
    pairs = resolve_pairs(config.pairs, names) if config.pairs else []
    for first, second in pairs:  # before the model check, so two widths are named side by side
        check_pair((names[first], read[first]), (names[second], read[second]))
    for name, recipe, file, vector in zip(names, recipes, files, read, strict=True):
        model_map.check_fits(vector, str(file))
        built_for = transferred(vector, config.model, path)
        ref = VectorRef(
            label=name, path=str(file), sha256=content_sha256(vector), file_sha256=file_sha256(file),
            recipe=None if recipe is None else recipe.text, built_for=built_for,
        )  # fmt: skip
        if built_for:
            format_notes.append(
                f"{name} was built for {built_for} and runs here on {config.model}: its cells are transfer cells "
                "(`built_for` in effects.csv), a vector read from another model's activations"
            )
        layers = _layers(vector, config.layers, str(file))
        for layer in layers:  # an all-zero tensor where it acts would run and be judged as if it had steered
            vector.check_applies(str(file), layer)
        if config.combine:
            vector.check_applies(str(file))  # in the combination it acts at its own chosen layer
        built = PromptFormat.from_record(vector.meta.extra.get("prompt_format"))
        if built is not None and built != config.prompt_format:
            format_notes.append(
                f"{ref.label} was built on {built.words()} and runs here on {config.prompt_format.words()}: its "
                "direction was read on other prompts than it is judged on (rebuild it with the run's format)"
            )
        selected = recorded_selection(vector, str(file))
        alphas = resolve(
            config.strengths, None if selected is None else selected.alpha, config.selected_required, str(file)
        )
        vectors[ref.sha256] = vector
        plans.append(VectorPlan(ref, layers, modes, alphas))
        if selected is not None:
            selections[ref.label] = selected
        for index, directions in enumerate(vector.resamples):  # further vectors of the same sweep
            resampled = SteeringVector(directions, dataclasses.replace(vector.meta, extra={}))
            resample_ref = VectorRef(
                label=f"resample {index} of {ref.label}", path=str(file), sha256=content_sha256(resampled),
                file_sha256=ref.file_sha256, resample_of=ref.label, resample=index,
            )  # fmt: skip
            vectors[resample_ref.sha256] = resampled
            plans.append(VectorPlan(resample_ref, layers, modes, alphas))
        for draw in range(config.placebo_draws):  # placebos run wherever their vector runs, `selected` included
            control_ref, control = _control(vector, ref, config, config.seed + draw)
            vectors[control_ref.sha256] = control
            plans.append(VectorPlan(control_ref, layers, modes, alphas))
            if selected is not None:
                selections[control_ref.label] = selected
    notes: list[str] = []
    mains = [p for p in plans if p.ref.control_of is None and p.ref.resample_of is None]  # in file order
    if config.combine:
        singles = [(p.ref, p.layers) for p in mains]
        plans.append(all_together(singles, vectors, modes, config.strengths, config.selected_required, notes))
    first_placebo = {p.ref.control_of: p for p in reversed(plans) if p.ref.control_of is not None}
    pair_cells, pair_records = pair_plans(
        [(mains[a], mains[b], first_placebo.get(mains[b].ref.label)) for a, b in pairs], vectors, notes
    )
    plans += pair_cells
    tasks, warnings = resolve_tasks(config)
    tasks = with_scorers(tasks, config.scorers)
    arms = {task.name: task_arms(task.prompts, config.prompt_arms, config.fewshot_arms, task.name) for task in tasks}
    if any(name == DECLARED for name, _ in config.prompt_arms) and not any(task.prompts for task in tasks):
        raise SteerEvalError(
            "--prompt-arm declared: none of these tasks declares an instruction (`steer-eval tasks` shows which "
            "do); give one with --prompt-arm NAME=TEXT"
        )
    conditions, condition_notes = task_conditions(tasks, config)
    cells = plan(tasks, plans, config.fewshot, config.option_orders, arms, conditions)
    notes = warnings + format_notes + notes + option_order_notes(tasks, config) + condition_notes
    if config.samples > 1 and not any(task.output == "generate_until" for task in tasks):
        notes.append(f"--samples {config.samples} draws texts, and none of these tasks generates: it changes nothing")
    if 1 < config.placebo_draws < 5:  # the placebo's spread rests on N - 1 degrees of freedom
        notes.append(
            f"{config.placebo_draws} placebo draws per vector: the test of a vector against their spread calls a "
            "vector no better than a random direction significant more often than 5% (about 12% with 2 draws, 8% "
            "with 3, in simulation); 5 or more (--controls random:5, the default) hold the level"
        )
    return Prepared(config, path, model_map, vectors, tasks, cells, notes, plans, selections, pair_records)


def transferred(vector: SteeringVector, model: str, path: str) -> str | None:
    """The model a vector was built for, when that is another model than the run's (None: this model, or
    unrecorded). Widths already match (check_fits): base to chat, or a fine-tuned variant."""
    built = vector.meta.model_name
    if not built or same_model(built, model) or same_model(built, path):
        return None
    return built


def _built(recipe: Recipe, config: RunConfig, progress: bool) -> Path:
    """A recipe's vector file for the run's model, built (or found in the run folder's cache)."""
    if "peft" in config.model_args:
        raise SteerEvalError(
            f"--vectors {recipe.text}: recipes are built on the model, and this run adds an adapter (--model-args "
            "peft=...); build the vector with `steer-eval vectors build` and pass the file"
        )
    return build_recipe(recipe, config.model, config.revision, config.output / "vectors" / "recipes",
                        config.data_dir, config.prompt_format, config.device, config.dtype, progress,
                        config.model_args)  # fmt: skip


def _check_chat_template(path: str, config: RunConfig) -> None:
    """--apply-chat-template on a model whose tokenizer has none is one line before any compute."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=config.revision)
    except (OSError, ValueError):
        return  # the run's own model loading says what is wrong with the model
    config.prompt_format.check(tokenizer)


def option_order_notes(tasks: list[TaskRef], config: RunConfig) -> list[str]:
    """What --option-orders K means for each task when it is not K balanced rotations."""
    wanted = config.option_orders
    if wanted < 2:
        return []
    notes = []
    for task in tasks:
        runs = orders_for(task, wanted)
        if task.registry is None and not task.options:
            notes.append(f"{task.name}: a user lm-eval task runs in its own option order only (declare its options "
                         "in its metadata to rotate them: docs/tasks.md)")  # fmt: skip
        elif task.registry is None:
            continue  # declared options: rotated like ours
        elif runs == 1:
            notes.append(f"{task.name}: option order does not exist for the model here (generation or answers "
                         "scored on their own), so it runs once")  # fmt: skip
        else:
            items = get_task(task.registry).load(config.data_dir)["test"]
            counts = sorted({len(item.options) for item in items})
            if counts == [runs]:
                continue  # balanced: every item's answer visits every position once
            if len(counts) == 1:
                notes.append(
                    f"{task.name}: {runs} option orders over {counts[0]} options: each answer visits {runs} evenly "
                    f"spaced positions, not all (--option-orders {counts[0]} balances it)"
                )
            else:
                unbalanced = sum(runs % len(item.options) != 0 for item in items)
                notes.append(
                    f"{task.name}: items have {counts[0]}-{counts[-1]} options; under {runs} option orders "
                    f"{unbalanced} of {len(items)} test items are not balanced (their option count does not "
                    f"divide {runs}: the answer visits evenly spaced positions, some more often than others)"
                )
    return notes


def _layers(vector: SteeringVector, wanted: list[int] | None, where: str) -> list[int | None]:
    if not vector.meta.per_layer:
        return [None]  # all of its tensors act together
    if wanted is None:
        return [vector.meta.default_layer]
    missing = [layer for layer in wanted if layer not in vector.layers]
    if missing:
        raise SteerEvalError(
            f"{where}: --layers asks for layer(s) {missing}, but this per-layer vector has layers {vector.layers}"
        )
    return list(wanted)


def _control(vector: SteeringVector, ref: VectorRef, config: RunConfig, seed: int) -> tuple[VectorRef, SteeringVector]:
    """One same-norm random draw imitating `vector` (draw 0 has the run's --seed, as a single placebo always had)."""
    identity = hashlib.sha256(f"random-control:{ref.sha256}:{seed}".encode()).hexdigest()
    stem = Path(ref.label).stem if ref.recipe is None else ref.label.replace(":", "-")
    path = config.output / "vectors" / f"random-{stem}-seed{seed}.safetensors"
    control = load_vector(path) if path.is_file() else None
    if control is None or control.meta.extra.get("reference_sha256") != ref.sha256:
        control = random_like(vector, seed=seed, source=ref.label)
        control.meta.extra["reference_sha256"] = ref.sha256
        save_vector(control, path)
    label = f"random({ref.label}, seed {seed})"
    return VectorRef(
        label=label, path=str(path), sha256=identity, control_of=ref.label, file_sha256=file_sha256(path)
    ), control


def _check_demonstrations(spec, splits: dict, config: RunConfig) -> None:
    """Demonstrations come from the task's train split (lm-eval samples them without replacement): asking for
    more than it holds would fail inside lm-eval in the middle of the run."""
    if spec.test_only:
        return
    available = len(splits.get("train", []))
    for flag, counts in (("--fewshot", config.fewshot), ("--fewshot-arm", config.fewshot_arms)):
        if counts and max(counts) > available:
            raise SteerEvalError(
                f"{flag} {max(counts)}: {spec.name} has {available} training items to draw demonstrations from; "
                f"ask for at most {available}"
            )


def resolve_tasks(config: RunConfig) -> tuple[list[TaskRef], list[str]]:
    """Registry selectors (names, families, kinds, groups) and, for anything else, lm-eval task or group
    names (from lm-eval itself or --include-path). Registry tasks' data is loaded here: missing data is an
    error before any compute."""
    # our lm-eval names (se_mmlu, se_bbq_age) mean our registry tasks, whose data and controls we know
    ours = [s for s in map(as_selector, config.tasks) if s is not None]
    theirs = [s for s in config.tasks if as_selector(s) is None]
    refs: list[TaskRef] = []
    for spec in select_tasks(ours) if ours else []:
        splits = spec.load(config.data_dir)  # raises TaskError naming the missing files
        _check_demonstrations(spec, splits, config)
        layouts = {item.layout for item in splits.get("test", []) if hasattr(item, "layout")}
        refs.append(
            TaskRef(lmeval_name(spec), spec.name, spec.kind, spec.family, spec.output, spec.target_is_desired,
                    data_hash(splits), distinct_option_orders(splits.get("test", [])), spec.scorer, spec.prompts,
                    spec.desired, declared_count(spec.name, spec.output, layouts),
                    tuple(declared_pressure(lmeval_name(spec), spec.name, spec.kind).items()))
        )  # fmt: skip
    warnings: list[str] = []
    if theirs:
        refs_theirs, warnings = _user_tasks(theirs, config.include_path)
        refs += refs_theirs
    if not refs:
        raise TaskError("no tasks selected")
    return list(dict.fromkeys(refs)), warnings


def with_scorers(tasks: list[TaskRef], chosen: dict[str, str]) -> list[TaskRef]:
    """Each generation task with the scorer `--scorer` names for it (else its declared one), every scorer
    checked (loaded, reached) before any generation starts."""
    from dataclasses import replace

    known = {task.name for task in tasks} | {task.registry for task in tasks if task.registry}
    stray = sorted(set(chosen) - known - {ALL_TASKS})
    if stray:
        raise SteerEvalError(f"--scorer names task(s) {', '.join(stray)}, which this run does not have")
    out = []
    for task in tasks:
        own = chosen.get(task.registry or "") or chosen.get(task.name)  # --scorer TASK=NAME for this task
        if task.output != "generate_until":
            if own:
                raise SteerEvalError(f"--scorer: {task.name} is not a generation task; only generated text is scored")
            out.append(task)
            continue
        name = own or chosen.get(ALL_TASKS) or task.scorer
        if name is None and task.registry and get_task(task.registry).scorer_required:
            raise SteerEvalError(
                f"{task.name} has no scorer of its own (no rule reads its behaviour from free text): name one, e.g. "
                f"--scorer {task.registry}=judge:MODEL --judge-url URL, or classifier:MODEL:LABEL"
            )
        out.append(replace(task, scorer=name))
    for name in sorted({task.scorer for task in out if task.scorer} | set(chosen.values())):
        get_scorer(name).check()  # an unknown scorer, a model that does not load: one line, nothing computed
    return out


def data_hash(splits: dict) -> str:
    """A hash of a task's items (all splits): a cell computed on other data never counts as done."""
    from steer_eval.tasks.items import data_hash as items_hash

    return items_hash([item for name in sorted(splits) for item in splits[name]])[:20]


def _user_tasks(names: list[str], include_path: str | None) -> tuple[list[TaskRef], list[str]]:
    from lm_eval.tasks import TaskManager

    from steer_eval.paths import tasks_dir
    from steer_eval.tasks.user_tasks import user_task_kind

    paths = [str(tasks_dir())] + ([include_path] if include_path else [])
    manager = TaskManager(include_path=paths)
    refs, warnings = [], []
    for name in names:
        if name not in manager.all_tasks:
            import difflib

            candidates = list(dict.fromkeys([*all_tasks(), *manager.all_tasks]))
            close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            where = f" under {include_path}" if include_path else ""
            raise TaskError(
                f"unknown task {name!r}: not a steer-eval task, family, kind or group, nor an lm-eval task or "
                f"group{where}; {hint}`steer-eval tasks` lists ours"
            )
        expanded = _expand(manager, name)
        for task_name in expanded:
            kind = user_task_kind(manager, task_name)
            if kind.warning:
                warnings.append(kind.warning)
            cfg = manager.task_index[task_name].cfg or {}
            output = cfg.get("output_type", "multiple_choice")
            listed = declared_options(task_name, cfg) if output == "multiple_choice" else None
            templates = declared_count(None, output, {listed.layout} if listed else set(), len(user_templates(cfg)))
            refs.append(
                TaskRef(task_name, None, kind.kind, "user", output, None, concept=task_name,
                        orders=option_count(manager, task_name, listed) if listed else 1, templates=templates,
                        pressures=tuple(declared_pressure(task_name, None, kind.kind).items()),
                        options=listed.pairs() if listed else ())
            )  # fmt: skip
    return refs, warnings


def _expand(manager, name: str) -> list[str]:
    """A task name stays itself; a group or tag becomes its member tasks."""
    entry = manager.task_index[name]
    kind = getattr(entry.kind, "name", str(entry.kind)).upper()
    if kind in ("TASK", "PY_TASK"):
        return [name]
    if kind == "TAG":
        return sorted(n for n, e in manager.task_index.items() if name in (e.tags or ()))
    cfg = entry.cfg or {}
    listed = cfg.get("task") if isinstance(cfg.get("task"), list) else []
    found = [m if isinstance(m, str) else m.get("task") for m in listed]
    if not found:
        raise TaskError(f"lm-eval group {name!r} lists no tasks steer-eval can run one by one")
    return [n for m in found for n in _expand(manager, m)]
