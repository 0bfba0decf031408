"""On target or off-target (issue 23): a vector is made for one behaviour (its training task, or the task its
file names: the manifest's `target_task`), and its effect on a behaviour task of another family is an
off-target effect (the sycophancy vector moving sentiment), to be reported as such and not as "helps".
`on_target` is True on behaviour tasks of the target's family, False on other behaviour tasks, and empty
where it does not apply or is unknown (capabilities, placebos, combinations, vectors that name no task).
A vector with an instruction (`VECTOR+prompt:NAME`) is on target where the vector is, and also where the
instruction is the task's own (declared for it: it asks for that task's behaviour); on another family's task
with an instruction the user wrote, what the instruction asks for is not known, so neither is `on_target`."""

from __future__ import annotations

from typing import Any


def target_families(manifest: dict, tasks: dict[str, str]) -> dict[str, str]:
    """Vector label -> the family of the task it was made for; `tasks` maps the run's task names (and
    registry names) to their families, and the registry answers for tasks the run did not evaluate."""
    out = {}
    for label, entry in (manifest.get("vectors") or {}).items():
        target = target_task(entry)
        if not target:
            continue
        family = tasks.get(target) or _registry_family(target)
        if family:
            out[label] = family
    return out


def target_task(entry: dict | None) -> str | None:
    """The task a manifest's vector entry was made for (runs before `target_task`: its training task)."""
    entry = entry or {}
    return entry.get("target_task") or (entry.get("trained_on") or {}).get("task")


def _registry_family(name: str) -> str | None:
    from steer_eval.tasks.registry import all_tasks

    spec = all_tasks().get(name)
    return getattr(spec, "family", None) if spec is not None else None


def mark_on_target(rows: list[dict[str, Any]], manifest: dict, tasks: dict[str, str]) -> None:
    """Set `on_target` on every effect row (see the module's docstring)."""
    families = target_families(manifest, tasks)
    own_prompts = {entry.get("name"): {str(p[0]) for p in entry.get("prompts") or [] if p}
                   for entry in manifest.get("tasks") or [] if isinstance(entry, dict)}  # fmt: skip
    for row in rows:
        row["on_target"] = None
        if row.get("is_control") or row.get("kind") != "behavior":
            continue
        label, _, prompt = str(row["vector"]).partition("+prompt:") if row.get("arm") else (row["vector"], "", "")
        if label not in families:
            continue
        on_target: bool | None = row.get("family") == families[label]
        if prompt and not on_target:
            on_target = True if prompt in own_prompts.get(row.get("task"), set()) else None
        row["on_target"] = on_target
