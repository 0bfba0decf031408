"""Tasks a user brings as an lm-eval task folder (`--include-path`): steer-eval needs to know whether each
is a behaviour or an intelligence task. It reads the task's tags (`behavior` / `intelligence`, also with
the `se_` prefix) or `metadata.kind`; a task that says neither is treated as intelligence, with a warning,
because calling a capability a behaviour would turn "steering hurt it" into "steering changed it"."""

from __future__ import annotations

from dataclasses import dataclass

from steer_eval.tasks.registry import KINDS, TaskError


@dataclass(frozen=True)
class UserTaskKind:
    name: str
    kind: str
    warning: str | None = None


def user_task_kind(task_manager, name: str) -> UserTaskKind:
    entry = task_manager.task_index.get(name)
    if entry is None:
        raise TaskError(
            f"lm-eval knows no task {name!r} (with the --include-path given); `lm_eval --tasks list` lists them"
        )
    tags = {str(tag).lower().removeprefix("se_") for tag in (entry.tags or ())}
    config = entry.cfg or {}
    metadata = config.get("metadata") or {}
    tags |= {str(tag).lower().removeprefix("se_") for tag in _as_list(config.get("tag"))}
    declared = {str(metadata.get("kind", "")).lower()} | tags
    kinds = [kind for kind in KINDS if kind in declared or (kind == "behavior" and "behaviour" in declared)]
    if len(kinds) == 1:
        return UserTaskKind(name, kinds[0])
    why = "both 'behavior' and 'intelligence'" if kinds else "neither a 'behavior' nor an 'intelligence' tag"
    return UserTaskKind(
        name,
        "intelligence",
        f"task {name} has {why}; treated as an intelligence task (add `tag: [behavior]` or "
        "`metadata: {kind: behavior}` to its YAML if steering is meant to change it)",
    )


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
