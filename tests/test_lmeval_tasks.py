"""The registry's tasks run through lm-eval itself (its few-shot, batching and metrics): multiple choice with
BBQ's bias scores, generation with GSM8K's number match and the refusal detector, and the option-order
control passed as task metadata."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager

from steer_eval.paths import tasks_dir
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.tasks.lmeval_adapter import bbq_results, dataset, mc_results
from steer_eval.tasks.registry import DATA_ENV


@pytest.fixture(scope="module")
def lm(real_model_dir: Path) -> SteerEvalLM:
    return SteerEvalLM(pretrained=str(real_model_dir), device="cpu", batch_size=8, max_length=1024)


def test_registry_tasks_run_in_lm_eval(lm: SteerEvalLM, shared_data: Path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    tasks = ["se_bbq_age", "se_mmlu_anatomy", "se_caa_sycophancy", "se_gsm8k", "se_refusal"]
    out = simple_evaluate(
        model=lm,
        tasks=tasks,
        limit=6,
        num_fewshot=1,
        task_manager=TaskManager(include_path=str(tasks_dir())),
        gen_kwargs="max_gen_toks=8",
        bootstrap_iters=0,
    )
    results = out["results"]
    assert 0 <= results["se_bbq_age"]["acc,none"] <= 1
    bias = results["se_bbq_age"]["bias_ambiguous,none"]
    assert math.isnan(bias) or -1 <= bias <= 1  # NaN when the few items drawn hold no ambiguous context
    assert "mc2,none" in results["se_mmlu_anatomy"] and "acc,none" in results["se_caa_sycophancy"]
    assert "exact_match,none" in results["se_gsm8k"]
    assert {"acc,none", "refusal_rate,none"} <= set(results["se_refusal"])


def test_option_order_rotates_every_item(shared_data: Path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    plain = dataset("mmlu_anatomy")["test"]
    moved = dataset("mmlu_anatomy", option_order=1)["test"]
    for a, b in zip(plain.select(range(10)), moved.select(range(10)), strict=True):
        assert a["id"] == b["id"] and a["prompt"] != b["prompt"]
        assert b["target"] == (a["target"] + 1) % 4
        answer = a["prompt"].split("\n")[1 + a["target"]][3:]
        assert b["prompt"].split("\n")[1 + b["target"]][3:] == answer
    # order 1 of 2 on four options: half-way round, so two orders still put the target in two places
    halfway = dataset("mmlu_anatomy", option_order=1, option_orders=2)["test"]
    for a, b in zip(plain.select(range(10)), halfway.select(range(10)), strict=True):
        assert b["target"] == (a["target"] + 2) % 4
        assert b["prompt"].split("\n")[1 + b["target"]][3:] == a["prompt"].split("\n")[1 + a["target"]][3:]


def test_per_document_scoring() -> None:
    doc = {"correct": [1], "target": 1, "condition": "ambig", "biased": 0, "unknown": 2}
    results = [(-1.0, False), (-0.5, True), (-3.0, False)]
    assert mc_results(doc, results)["acc"] == 1.0
    scored = bbq_results(doc, results)
    assert scored["acc"] == 1.0 and scored["bias_ambiguous"]["chosen"] == 1


def test_registry_groups_aggregate_accuracy_in_lm_eval(lm: SteerEvalLM, shared_data: Path, monkeypatch) -> None:
    """`se_mmlu` is an lm-eval group of its four categories, each of its subjects, with accuracy weighted by
    size (the accuracy over all items), as lm-eval's own MMLU group reports it."""
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    out = simple_evaluate(
        model=lm, tasks=["se_mmlu"], limit=2, task_manager=TaskManager(include_path=str(tasks_dir())), bootstrap_iters=0
    )
    results = out["results"]
    subjects = [name for name in results if name.startswith("se_mmlu_") and "n-samples" not in name]
    subjects = [
        s for s in subjects if s.removeprefix("se_mmlu_") not in ("stem", "other", "social_sciences", "humanities")
    ]
    assert len(subjects) == 57
    overall = sum(results[s]["acc,none"] for s in subjects) / len(subjects)  # 2 items each: equal weights
    assert results["se_mmlu"]["acc,none"] == pytest.approx(overall)
    stem = [
        s for s in subjects if "se_mmlu_stem" in out["group_subtasks"] and s in out["group_subtasks"]["se_mmlu_stem"]
    ]
    assert len(stem) == 19
    assert results["se_mmlu_stem"]["acc,none"] == pytest.approx(sum(results[s]["acc,none"] for s in stem) / 19)


def test_every_draw_of_a_metric_scored_generation_task_is_scored(shared_data: Path, monkeypatch) -> None:
    """With --samples N, lm-eval's default filter hands a task's metric the first draw only: GSM8K's exact
    match and the refusal rate were the first draw's while the docs said the mean over the draws."""
    from lm_eval.tasks import get_task_dict

    from steer_eval.run.records import score_every_draw

    monkeypatch.setenv(DATA_ENV, str(shared_data))
    tasks = get_task_dict(["se_refusal", "se_gsm8k"], TaskManager(include_path=str(tasks_dir())))
    refusal = tasks["se_refusal"]
    doc = next(d for d in refusal.test_docs() if d["reference"] == "refuse")
    texts = ["I'm sorry, but I can't help with that.", "Sure, here is how.", "I cannot assist with this request."]
    records = [{"text": texts[0], "texts": texts, "correct": 1.0, "refused": 1.0}]
    score_every_draw(records, [{"doc": doc}], refusal)
    assert records[0]["draws_correct"] == [1.0, 0.0, 1.0]
    assert records[0]["correct"] == pytest.approx(2 / 3) and records[0]["refused"] == pytest.approx(2 / 3)
    gsm8k = tasks["se_gsm8k"]
    doc = next(iter(gsm8k.test_docs()))
    answer = f"so the answer is #### {doc['reference']}"
    records = [{"text": "#### -1", "texts": ["#### -1", answer, answer, "no idea"], "correct": 0.0}]
    score_every_draw(records, [{"doc": doc}], gsm8k)
    assert records[0]["draws_correct"] == [0.0, 1.0, 1.0, 0.0] and records[0]["correct"] == 0.5
