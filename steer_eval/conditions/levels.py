"""Which conditions each task of a run is measured under, from `--templates`, `--pressure` and `--turns`,
checked before any compute: an unknown pressure, `--templates` above what a task declares, or a negative turn
count is one line naming the valid choices; a task that declares no templates (or no pressure prompts) runs
its one format with a note."""

from __future__ import annotations

from steer_eval.conditions import Condition
from steer_eval.errors import SteerEvalError


def task_conditions(tasks: list, config) -> tuple[dict[str, list[Condition]], list[str]]:
    """Task name -> its non-default conditions (one factor varied at a time), and notes for the tasks that
    cannot vary a factor the run asks for."""
    out: dict[str, list[Condition]] = {task.name: [] for task in tasks}
    notes: list[str] = []
    if config.templates > 1:
        too_few = [t for t in tasks if 1 < t.templates < config.templates]
        if too_few:
            raise SteerEvalError(
                f"--templates {config.templates}: "
                + "; ".join(f"{t.name} declares {t.templates}" for t in too_few)
                + f" (use --templates {min(t.templates for t in too_few)} or fewer, or leave those tasks out)"
            )
        single = [t.name for t in tasks if t.templates == 1]
        if single:
            notes.append(f"--templates: {', '.join(single)} declare(s) no other prompt template and run their own "
                         "format only")  # fmt: skip
        for task in tasks:
            out[task.name] += [Condition(template=k) for k in range(1, min(config.templates, task.templates))]
    if config.pressure:
        every = config.pressure == ["all"]
        offered = {name for task in tasks for name, _ in task.pressures}
        if not every:
            missing = [name for name in config.pressure if name not in offered]
            if missing:
                raise SteerEvalError(
                    f"--pressure {','.join(missing)}: no task of this run declares it; these tasks declare "
                    f"{', '.join(sorted(offered)) or 'none'} (or use --pressure all)"
                )
        for task in tasks:
            names = [name for name, _ in task.pressures if every or name in config.pressure]
            out[task.name] += [Condition(pressure=name) for name in names]
            if not names:
                notes.append(f"--pressure: {task.name} declares no such pressure prompt and runs without one")
        if every and not offered:
            raise SteerEvalError("--pressure all: none of these tasks declares a pressure prompt (behaviour tasks do)")
    for turns in config.turns:
        if turns < 0:
            raise SteerEvalError(f"--turns: {turns} is negative; give counts like 0,2,8")
        if turns:
            for task in tasks:
                out[task.name].append(Condition(turns=turns))
    return out, notes


def pressure_text(task, name: str) -> str:
    return dict(task.pressures)[name]
