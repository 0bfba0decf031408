"""The task registry: every task states what it is and loads from the authors' files; counts match
SOURCES.md; first items render as the golden file says; splits are deterministic and disjoint, and a question
shared by tasks is in the same split in all of them; a permuted option order keeps the correct answer correct;
the lm-eval YAML files match the registry."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import yaml

from steer_eval.tasks import TaskError, all_tasks, get_task, load_split
from steer_eval.tasks.items import GenItem, MCItem, lettered_item
from steer_eval.tasks.questions import item_question_key
from steer_eval.tasks.registry import DATA_ENV, _load_cached, select_tasks

GOLDEN = Path(__file__).parent / "golden" / "tasks.json"

# Record counts as SOURCES.md states them, per task: all splits together.
SOURCE_COUNTS = {
    "bbq_age": 3680,
    "bbq_disability_status": 1556,
    "bbq_nationality": 3080,
    "bbq_physical_appearance": 1576,
    "bbq_religion": 1200,
    "bbq_sexual_orientation": 864,
    "caa_coordinate_other_ais": 360 + 50,
    "caa_corrigible_neutral_hhh": 290 + 50,
    "caa_hallucination": 1000 + 50,
    "caa_myopic_reward": 950 + 50,
    "caa_refusal": 408 + 50,
    "caa_survival_instinct": 903 + 50,
    "caa_sycophancy": 1000 + 50,
    "airisk_coordinate_itself": 322,
    "airisk_coordinate_other_ais": 410,
    "airisk_coordinate_other_versions": 348,
    "airisk_corrigible_less_hhh": 351,
    "airisk_corrigible_more_hhh": 309,
    "airisk_corrigible_neutral_hhh": 340,
    "airisk_myopic_reward": 1000,
    "airisk_one_box_tendency": 300,
    "airisk_power_seeking_inclination": 998,
    "airisk_self_awareness_general_ai": 300,
    "airisk_self_awareness_good_text_model": 600,
    "airisk_self_awareness_text_model": 300,
    "airisk_self_awareness_training_architecture": 300,
    "airisk_self_awareness_web_gpt": 300,
    "airisk_survival_instinct": 953,
    "airisk_wealth_seeking_inclination": 985,
    "truthfulqa_mc1": 790,
    "truthfulqa_mc2": 790,
    "ethics_commonsense": 3885 + 3964,
    "ethics_deontology": 18164 + 3596,
    "ethics_justice": 21791 + 2704,
    "ethics_utilitarianism": 13738 + 4808,
    "sst2": 6735 + 872,
    "hellaswag": 10042,
    "gsm8k": 7473 + 1319,
    "arc_easy": 2251 + 570 + 2376,
    "arc_challenge": 1119 + 299 + 1172,
    "refusal": 2 * (260 + 39 + 572),  # every harmful item and as many harmless ones
}
# Train/validation copies of test questions in the authors' splits, dropped (questions.without_test_questions).
REPEATED = {"arc_easy": 3, "ethics_justice": 1, "ethics_utilitarianism": 39, "refusal": 1}
PERSONA_COUNT = 1000
MMLU_COUNTS = {"train": 285, "validation": 1531 - 14, "test": 14042}  # 14 val questions repeated in test


def test_every_task_states_kind_family_direction_source_and_licence() -> None:
    tasks = all_tasks()
    assert len(tasks) > 100
    for spec in tasks.values():
        assert spec.kind in ("behavior", "intelligence") and spec.family and spec.desired
        assert spec.source and spec.licence
        if spec.kind == "behavior" and not spec.builtin:
            assert "wanted" in spec.desired.lower() or "unwanted" in spec.desired.lower(), spec.name
    assert get_task("caa_sycophancy").target_is_desired is False and "UNWANTED" in get_task("caa_sycophancy").desired
    assert get_task("bbq_age").target_is_desired is True


def test_selectors_accept_names_families_kinds_and_groups() -> None:
    assert [s.name for s in select_tasks(["bbq_age"])] == ["bbq_age"]
    assert len(select_tasks(["mmlu"])) == 57 and all(s.family == "knowledge" for s in select_tasks(["mmlu_stem"]))
    assert {s.kind for s in select_tasks(["intelligence"])} == {"intelligence"}
    assert {s.name for s in select_tasks(["morality"])} == {
        f"ethics_{n}" for n in ("commonsense", "deontology", "justice", "utilitarianism")
    }
    assert len(select_tasks(["bias", "bbq_age"])) == 6  # no duplicates
    with pytest.raises(TaskError, match="did you mean"):
        select_tasks(["bbq_agee"])


def test_unknown_task_and_split_and_missing_data(monkeypatch, tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="did you mean bbq_age"):
        get_task("bbq_agee")
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(TaskError, match="--data-dir"):
        load_split("bbq_age", "train")
    with pytest.raises(TaskError, match=r"needs bbq/Age\.jsonl under the data folder"):
        load_split("bbq_age", "train", tmp_path)
    with pytest.raises(TaskError, match="unknown split"):
        load_split("demo_facts", "dev")


def test_malformed_data_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "truthfulqa" / "data").mkdir(parents=True)
    (tmp_path / "truthfulqa" / "data" / "mc_task.json").write_text(json.dumps([{"question": "q?"}]))
    with pytest.raises(TaskError, match="malformed data"):
        load_split("truthfulqa_mc1", "train", tmp_path)


def test_item_validation() -> None:
    with pytest.raises(ValueError, match="out of range"):
        MCItem("x", "stem", ("a", "b"), 2)
    with pytest.raises(ValueError, match="at least 2 options"):
        MCItem("x", "stem", ("a",), 0)


def test_options_are_shuffled_per_item_never_one_permutation_for_all() -> None:
    items = [lettered_item(f"q{i}", "Which?", ["right", "w1", "w2", "w3"], 0, "seed") for i in range(200)]
    letters = collections.Counter(item.target for item in items)
    assert len(letters) == 4 and min(letters.values()) > 25
    assert all(item.options[item.target] == "right" for item in items)


@pytest.fixture(scope="module")
def loaded(shared_data: Path) -> dict:
    return {name: spec.load(shared_data) for name, spec in all_tasks().items() if spec.data_files or spec.builtin}


def test_every_task_loads_and_counts_match_sources(loaded: dict) -> None:
    for name, splits in loaded.items():
        total = sum(len(items) for items in splits.values())
        if name in SOURCE_COUNTS:
            assert total == SOURCE_COUNTS[name] - REPEATED.get(name, 0), name
        elif name.startswith("persona_"):
            assert total == PERSONA_COUNT, name
        if get_task(name).test_only:  # CAA's open-ended prompts: evaluation only, every one in test
            assert not splits["train"] and not splits["validation"] and len(splits["test"]) in (50, 53), name
            continue
        assert all(splits.get(s) for s in ("train", "validation", "test")), f"{name} has an empty split"
    mmlu = collections.Counter()
    for name, splits in loaded.items():
        if name.startswith("mmlu_"):
            mmlu.update({split: len(items) for split, items in splits.items()})
    assert dict(mmlu) == MMLU_COUNTS


def test_first_items_render_as_the_golden_file_says(loaded: dict) -> None:
    from golden.make_golden import render

    golden = json.loads(GOLDEN.read_text())
    assert set(golden) == {name for name, spec in all_tasks().items() if spec.data_files}
    for name, expected in golden.items():
        splits = loaded[name]
        assert {split: len(items) for split, items in splits.items()} == expected["counts"], name
        for split, first in expected["first"].items():
            assert render(splits[split][0]) == first, f"{name} {split}"


def test_splits_are_deterministic_and_disjoint(loaded: dict, shared_data: Path) -> None:
    _load_cached.cache_clear()
    for name in ("caa_sycophancy", "bbq_religion", "ethics_justice", "truthfulqa_mc1", "hellaswag", "gsm8k"):
        again = get_task(name).load(shared_data)
        for split in ("train", "validation", "test"):
            assert [i.id for i in again[split]] == [i.id for i in loaded[name][split]], name
    for name, splits in loaded.items():
        seen: dict[str, str] = {}
        for split, items in splits.items():
            for item in items:
                assert seen.setdefault(item.id, split) == split, f"{name}: {item.id} in two splits"
    for name in [n for n in loaded if n.startswith(("caa_", "airisk_"))]:  # repeated questions stay together
        where = collections.defaultdict(set)
        for split, items in loaded[name].items():
            for item in items:
                where[item_question_key(item)].add(split)
        assert all(len(splits) == 1 for splits in where.values()), name


SHARED_SETS = ("coordinate_other_ais", "corrigible_neutral_hhh", "myopic_reward", "survival_instinct")


def _keys(splits: dict, split: str) -> set[str]:
    return {item_question_key(item) for item in splits[split]}


def test_caa_and_airisk_sets_share_questions_but_never_across_train_and_test(loaded: dict) -> None:
    # CAA's four sets are Anthropic's, question for question; split with their own salts, 44 to 122 test items of
    # each airisk set were train items of its CAA set. The shared split puts every question in one split.
    for behavior in SHARED_SETS:
        caa, airisk = loaded[f"caa_{behavior}"], loaded[f"airisk_{behavior}"]
        everywhere = set().union(*(_keys(caa, s) for s in caa))
        assert len(everywhere & set().union(*(_keys(airisk, s) for s in airisk))) >= 340, behavior
        for a, b in ((caa, airisk), (airisk, caa)):
            assert len(_keys(a, "test") & _keys(b, "train")) == 0, behavior
            assert len(_keys(a, "test") & _keys(b, "validation")) == 0, behavior
        for split in ("train", "validation", "test"):
            assert _keys(caa, split) == _keys(airisk, split), (behavior, split)


# Questions in two splits that the registry does not choose: MMLU's authors put 19 questions in both
# clinical_knowledge and college_medicine, in different splits (kept: the published test sets stay whole, and a
# run reports the overlap), and two train/validation repeats that no vector is tested on (ETHICS utilitarianism
# lists 4 pairs in both orders; one MMLU college_physics dev question is also a val question).
KNOWN_REPEATS = {
    ("mmlu_clinical_knowledge", "mmlu_college_medicine"): 19,
    ("ethics_utilitarianism",): 4,
    ("mmlu_college_physics",): 1,
}


def test_no_question_is_in_two_splits_anywhere_in_the_registry(loaded: dict) -> None:
    where: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    for name, splits in loaded.items():
        if "demo" in get_task(name).groups:
            continue  # the demo world is synthetic, its own tests check its splits
        for split, items in splits.items():
            for item in items:
                where[item_question_key(item)].add((name, split))
    repeats = collections.Counter(
        tuple(sorted({name for name, _ in places})) for places in where.values() if len({s for _, s in places}) > 1
    )
    assert dict(repeats) == KNOWN_REPEATS
    shared = collections.Counter(
        tuple(sorted({name for name, _ in places})) for places in where.values() if len({n for n, _ in places}) > 1
    )
    assert shared[("airisk_self_awareness_general_ai", "airisk_self_awareness_good_text_model")] == 300
    assert shared[("persona_machiavellianism", "persona_psychopathy")] > 30  # persona sets share statements


def test_shared_question_splits_stay_close_to_60_20_20(loaded: dict) -> None:
    for name in [n for n in loaded if n.startswith(("caa_", "airisk_", "persona_")) and not get_task(n).test_only]:
        total = sum(len(items) for items in loaded[name].values())
        for split, fraction in (("train", 0.6), ("validation", 0.2), ("test", 0.2)):
            assert abs(len(loaded[name][split]) / total - fraction) < 0.035, (name, split)


def test_rotated_options_keep_the_correct_answer_and_balance_its_position(loaded: dict) -> None:
    for name, splits in loaded.items():
        for item in splits["test"][:25]:
            if isinstance(item, GenItem):
                continue
            n = len(item.options)
            positions = set()
            for shift in range(n):
                moved = item.rotated(shift)
                assert moved.options[moved.target] == item.options[item.target], name
                assert {moved.options[i] for i in (moved.correct or ())} == {
                    item.options[i] for i in (item.correct or ())
                }
                if item.contrast is not None:
                    assert moved.options[moved.contrast] == item.options[item.contrast]
                assert moved.meta == item.meta and moved.prompt.count("\n") == item.prompt.count("\n")
                positions.add(moved.target)
            assert positions == set(range(n)), name


def test_bbq_marks_the_biased_and_unknown_answers(loaded: dict, shared_data: Path) -> None:
    records = [json.loads(line) for line in (shared_data / "bbq" / "Age.jsonl").read_text().splitlines()[:40]]
    items = {item.id: item for items in loaded["bbq_age"].values() for item in items}
    for record in records:
        item = items[f"Age-{record['example_id']}"]
        assert item.meta["unknown_answer"] == next(
            record[f"ans{k}"] for k in range(3) if record["answer_info"][f"ans{k}"][1] == "unknown"
        )
        biased = item.meta["biased_answer"]
        group = next(record["answer_info"][f"ans{k}"][1] for k in range(3) if record[f"ans{k}"] == biased)
        assert (group == "old") == (record["question_polarity"] == "neg")  # the stereotyped group is "old"


def test_lmeval_yaml_files_match_the_registry() -> None:
    from steer_eval.paths import tasks_dir
    from steer_eval.tasks.lmeval_adapter import expected_files

    expected = expected_files(tasks_dir())
    for path, text in expected.items():
        assert path.is_file() and path.read_text() == text, (
            f"{path} is stale: run python -m steer_eval.tasks.lmeval_adapter"
        )
    generated = {p for kind in ("behavior", "intelligence") for p in (tasks_dir() / kind).iterdir() if p.is_file()}
    assert generated <= set(expected), f"files no task or group makes: {sorted(generated - set(expected))}"
    mmlu = yaml.safe_load((tasks_dir() / "intelligence" / "_se_mmlu.yaml").read_text())
    assert mmlu["task"] == [f"se_mmlu_{c}" for c in ("stem", "other", "social_sciences", "humanities")]
    assert mmlu["aggregate_metric_list"][0] == {"metric": "acc", "aggregation": "mean", "weight_by_size": True}


@pytest.mark.parametrize("n", [2, 3, 4, 5, 13])
@pytest.mark.parametrize("orders", [1, 2, 3, 4, 5, 8])
def test_option_orders_spread_the_target_as_evenly_as_the_counts_allow(n: int, orders: int) -> None:
    item = MCItem("x", "Which?", tuple(f"option {k}" for k in range(n)), 1)
    shown = [item.in_order(k, orders) for k in range(orders)]
    assert all(s.options[s.target] == "option 1" for s in shown)
    positions = collections.Counter(s.target for s in shown)
    if orders <= n:  # every order shows the target somewhere new
        assert len(positions) == orders
    else:  # every position used, none more than once above another
        assert set(positions) == set(range(n)) and max(positions.values()) - min(positions.values()) <= 1
    if orders == n:
        assert all(s == item.rotated(k) for k, s in enumerate(shown))
    with pytest.raises(ValueError, match="option order"):
        item.in_order(orders, orders)


def test_each_task_knows_how_many_option_orders_it_has(loaded: dict) -> None:
    from steer_eval.tasks.items import distinct_option_orders

    for name, splits in loaded.items():
        items = splits["test"]
        got = distinct_option_orders(items)
        if isinstance(items[0], GenItem) or items[0].layout == "continuation":
            assert got == 1, name
        else:
            assert got == max(len(i.options) for i in items) >= 2, name
    assert distinct_option_orders(loaded["mmlu_anatomy"]["test"]) == 4
    assert distinct_option_orders(loaded["caa_sycophancy"]["test"]) == 2


def test_grouped_splits_keep_groups_together_and_hit_the_fractions() -> None:
    from steer_eval.tasks.items import grouped_split

    sizes = {f"t{k}": size for k, size in enumerate([240, 168, 128, 120, 72, 72, 64, 48, 48, 32, 16, 12, 8] * 2)}
    assignment = grouped_split(sizes, "salt")
    assert assignment == grouped_split(dict(reversed(sizes.items())), "salt")  # deterministic, order-free
    total = sum(sizes.values())
    for split, fraction in (("train", 0.6), ("validation", 0.2), ("test", 0.2)):
        share = sum(size for key, size in sizes.items() if assignment[key] == split) / total
        assert abs(share - fraction) < 0.02, (split, share)


def test_bbq_splits_are_60_20_20_by_template(loaded: dict) -> None:
    for name in [n for n in loaded if n.startswith("bbq_")]:
        splits = loaded[name]
        total = sum(len(items) for items in splits.values())
        for split, fraction in (("train", 0.6), ("validation", 0.2), ("test", 0.2)):
            assert abs(len(splits[split]) / total - fraction) < 0.02, (name, split, len(splits[split]) / total)
