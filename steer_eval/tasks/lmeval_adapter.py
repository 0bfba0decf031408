"""The registry's tasks as lm-eval tasks: datasets built from `MCItem` / `GenItem` (what the YAML files under
tasks/behavior and tasks/intelligence load through `custom_dataset`), per-document scoring for metrics
beyond accuracy, and the YAML files themselves (generated from the registry, so the two never drift).

lm-eval task names are the registry names prefixed `se_` (lm-eval ships its own `arc_easy`, `gsm8k`, ...
with other prompts and splits); tags name the kind and family with the same prefix, and each registry group
(`mmlu`, `mmlu_stem`, `bbq`, ...) is an lm-eval group `se_<group>` that aggregates accuracy. The option-order
control is the dataset keyword `option_order` (a rotation of every item's options)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from steer_eval.tasks import metrics
from steer_eval.tasks.items import GenItem, MCItem
from steer_eval.tasks.registry import TaskSpec, all_tasks, get_task

PREFIX = "se_"


def lmeval_name(spec: TaskSpec) -> str:
    return spec.name if spec.own_yaml else PREFIX + spec.name  # the demo's tasks keep their own names


def mc_row(item: MCItem) -> dict[str, Any]:
    meta = item.meta
    biased, unknown = meta.get("biased_answer"), meta.get("unknown_answer")
    return {
        "id": item.id,
        "prompt": item.prompt,
        "choices": list(item.continuations),
        "target": item.target,
        "correct": list(item.correct or (item.target,)),
        "condition": meta.get("context_condition", ""),
        "biased": item.options.index(biased) if biased is not None else -1,
        "unknown": item.options.index(unknown) if unknown is not None else -1,
    }


def gen_row(item: GenItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "prompt": item.prompt,
        "reference": item.reference,
        "fewshot_target": " " + item.meta.get("solution", item.reference),
    }


def dataset(
    steer_eval_task: str,
    option_order: int = 0,
    option_orders: int | None = None,
    data_dir: str | None = None,
    template: int = 0,
    **_: object,
):
    """The task's splits as a `datasets.DatasetDict`. `option_order` k of `option_orders` K rotates every
    item's options by k * n // K places (n: its option count; `items.rotation_shift`); without K, by k places
    (the same when K = n). `template` k shows the items in the k-th format their layout declares
    (conditions/templates.py), before any rotation."""
    import datasets

    from steer_eval.conditions.templates import generation_prompt, templated

    order = int(option_order)
    splits = get_task(steer_eval_task).load(data_dir)
    rows = {}
    for split, items in splits.items():
        if not items:
            continue
        if int(template) and not isinstance(items[0], GenItem):
            items = [templated(item, int(template)) for item in items]
        if isinstance(items[0], GenItem):
            rows[split] = [{**gen_row(item), "prompt": generation_prompt(item.prompt, int(template))} for item in items]
        elif not order:
            rows[split] = [mc_row(item) for item in items]
        elif option_orders:
            rows[split] = [mc_row(item.in_order(order, int(option_orders))) for item in items]
        else:
            rows[split] = [mc_row(item.rotated(order)) for item in items]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(r) for split, r in rows.items()})


# ---- per-document scoring (lm-eval `process_results`) -----------------------------------------------------


def _chosen(results: list) -> int:
    scores = [ll for ll, _ in results]
    return max(range(len(scores)), key=scores.__getitem__)


def mc_results(doc: dict, results: list) -> dict[str, Any]:
    chosen = _chosen(results)
    scores = [ll for ll, _ in results]
    return {
        "acc": float(chosen in doc["correct"]),
        "mc2": metrics.mc2_mass(scores, doc["correct"]),
    }


def bbq_results(doc: dict, results: list) -> dict[str, Any]:
    chosen = _chosen(results)
    record = {
        "condition": doc["condition"],
        "chosen": chosen,
        "biased": None if doc["biased"] < 0 else doc["biased"],
        "unknown": doc["unknown"],
        "correct": chosen == doc["target"],
    }
    return {"acc": float(record["correct"]), "bias_ambiguous": record, "bias_disambiguated": record}


def bbq_bias_ambiguous(records: list[dict]) -> float:
    return metrics.bbq_scores(records).get("bias_ambiguous", float("nan"))


def bbq_bias_disambiguated(records: list[dict]) -> float:
    return metrics.bbq_scores(records).get("bias_disambiguated", float("nan"))


def gsm8k_results(doc: dict, results: list) -> dict[str, Any]:
    return {"exact_match": float(metrics.gsm8k_correct(results[0], doc["reference"]))}


def refusal_results(doc: dict, results: list) -> dict[str, Any]:
    refused = metrics.is_refusal(results[0])
    return {"acc": float(refused == (doc["reference"] == "refuse")), "refusal_rate": float(refused)}


def scored_results(doc: dict, results: list) -> dict[str, Any]:
    """A generation scored by the scorer its row names (`scorer`): lm-eval's own table of a generation task.
    steer-eval's runner scores the texts itself (run/textscore.py) and records the missing ones."""
    from steer_eval.scoring import get_scorer

    value = get_scorer(doc["scorer"]).score(results[0], doc.get("reference", ""))
    return {"score": value}


def open_results(doc: dict, results: list) -> dict[str, Any]:
    """A generation task no rule can score (its scorer is named per run): lm-eval's table gets the length."""
    return {"words": float(len(results[0].split()))}


def mean_scored(values: list) -> float:
    """The mean over the texts the scorer could score (unscorable ones are missing, not 0)."""
    scored = [v for v in values if v is not None]
    return sum(scored) / len(scored) if scored else float("nan")


# ---- YAML ---------------------------------------------------------------------------------------------


def _mean(name: str) -> dict[str, Any]:
    return {"metric": name, "aggregation": "mean", "higher_is_better": True}


def task_config(spec: TaskSpec) -> dict[str, Any]:
    """The lm-eval task config of one registry task (what the YAML file holds)."""
    config: dict[str, Any] = {
        "task": lmeval_name(spec),
        # kind and family are tags; the registry's groups are lm-eval groups (group_config) with metrics
        "tag": [PREFIX + t for t in dict.fromkeys((spec.kind, spec.family))],
        "dataset_path": "",
        "custom_dataset": "!function utils.dataset",
        "training_split": "train",
        "validation_split": "validation",
        "test_split": "test",
        "fewshot_split": "train",
        "doc_to_text": "{{prompt}}",
        "fewshot_delimiter": "\n\n",
    }
    if spec.test_only:  # evaluation prompts only: no split to draw few-shot examples from
        for key in ("training_split", "validation_split", "fewshot_split"):
            config.pop(key)
    if spec.output == "generate_until" and spec.scorer_required:
        config.update(
            output_type="generate_until",
            doc_to_target="{{reference}}",
            generation_kwargs={"until": ["\n\nQuestion:", "Question:"], "max_gen_toks": 128, "do_sample": False},
            process_results="!function utils.open_results",
            metric_list=[_mean("words")],
        )
    elif spec.output == "generate_until":
        config.update(
            output_type="generate_until",
            doc_to_target="{{fewshot_target}}",
            target_delimiter="",
            generation_kwargs={
                "until": ["\n\nQuestion:", "Question:", "\n\nInstruction:", "Instruction:"],
                "max_gen_toks": 256 if spec.family == "math" else 64,
                "do_sample": False,
            },
            process_results="!function utils.gsm8k_results"
            if spec.family == "math"
            else "!function utils.refusal_results",
            metric_list=[_mean("exact_match")] if spec.family == "math" else [_mean("acc"), _mean("refusal_rate")],
        )
    else:
        config.update(
            output_type="multiple_choice",
            doc_to_choice="{{choices}}",
            doc_to_target="{{target}}",
            target_delimiter="",  # the choices carry their leading space (" A", " (A)", " positive")
        )
        if spec.family == "bias" and "bbq" in spec.groups:
            config.update(
                process_results="!function utils.bbq_results",
                metric_list=[
                    _mean("acc"),
                    {
                        "metric": "bias_ambiguous",
                        "aggregation": "!function utils.bbq_bias_ambiguous",
                        "higher_is_better": False,
                    },
                    {
                        "metric": "bias_disambiguated",
                        "aggregation": "!function utils.bbq_bias_disambiguated",
                        "higher_is_better": False,
                    },
                ],
            )
        else:
            config.update(process_results="!function utils.mc_results", metric_list=[_mean("acc"), _mean("mc2")])
    config["metadata"] = {"version": 1.0, "steer_eval_task": spec.name, "kind": spec.kind, "family": spec.family}
    return config


def registry_groups() -> dict[str, list[TaskSpec]]:
    """The registry's groups (except the demo's, which has its own YAML) and their member tasks."""
    members: dict[str, list[TaskSpec]] = {}
    for spec in all_tasks().values():
        for group in spec.groups:
            if not spec.own_yaml:
                members.setdefault(group, []).append(spec)
    return members


def group_config(group: str, members: dict[str, list[TaskSpec]]) -> dict[str, Any]:
    """An lm-eval group over a registry group, with accuracy aggregated as lm-eval does for MMLU (weighted by
    size: the accuracy over all the group's items). A group made exactly of smaller groups (MMLU of its four
    categories) lists those, so lm-eval reports them too."""
    names = {spec.name for spec in members[group]}
    metric = "words" if all(spec.scorer_required for spec in members[group]) else "acc"
    inner = [g for g, specs in members.items() if g != group and {s.name for s in specs} < names]
    covered = {s.name for g in inner for s in members[g]}
    disjoint = sum(len(members[g]) for g in inner) == len(covered)
    parts = [PREFIX + g for g in inner] if inner and covered == names and disjoint else None
    return {
        "group": PREFIX + group,
        "task": parts or [lmeval_name(spec) for spec in members[group]],
        # tasks scored per run (caa_open) report only their texts' length to lm-eval
        "aggregate_metric_list": [{"metric": metric, "aggregation": "mean", "weight_by_size": True}],
        "metadata": {"version": 1.0, "steer_eval_group": group},
    }


def _dump(config: dict[str, Any], what: str) -> str:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=200)
    # `!function` is lm-eval's YAML tag; safe_dump writes it as a quoted string, so unquote it.
    text = re.sub(r"'(!function [\w.]+)'", r"\1", text)
    header = f"# Generated from steer-eval's task registry ({what}); do not edit.\n"
    return header + "# Regenerate: python -m steer_eval.tasks.lmeval_adapter\n" + text


def render_yaml(spec: TaskSpec) -> str:
    return _dump(task_config(spec), spec.name)


UTILS = '''"""lm-eval hooks for steer-eval's registry tasks (generated; see steer_eval/tasks/lmeval_adapter.py)."""

from steer_eval.tasks.lmeval_adapter import (  # noqa: F401
    bbq_bias_ambiguous,
    bbq_bias_disambiguated,
    bbq_results,
    dataset,
    gsm8k_results,
    mc_results,
    mean_scored,
    open_results,
    refusal_results,
    scored_results,
)
'''


def expected_files(root: Path) -> dict[Path, str]:
    files: dict[Path, str] = {}
    for spec in all_tasks().values():
        if spec.own_yaml:
            continue  # the demo tasks have their own hand-written YAML under tasks/demo
        files[root / spec.kind / f"{lmeval_name(spec)}.yaml"] = render_yaml(spec)
    for kind in ("behavior", "intelligence"):
        files[root / kind / "utils.py"] = UTILS
    members = registry_groups()
    for group, specs in members.items():
        files[root / specs[0].kind / f"_{PREFIX}{group}.yaml"] = _dump(group_config(group, members), f"group {group}")
    return files


def write_all(root: Path) -> int:
    for path, text in expected_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return len(expected_files(root))


if __name__ == "__main__":
    from steer_eval.paths import tasks_dir

    print(f"wrote {write_all(tasks_dir())} files under {tasks_dir()}")
