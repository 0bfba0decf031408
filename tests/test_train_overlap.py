"""A run says how many evaluated items each vector saw in training (`train_overlap`): a vector built on a
task's train split has 0 on that task's test split and the known count on a task (here a user's own lm-eval
task, rendered differently) holding its training questions; a vector without a training record runs as
before, its count empty, with one note; random controls have none and no note. On the real data, a vector
built on CAA's corrigibility train split sees no test item of Anthropic's copy of the set."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from steer_eval.run.config import RunConfig
from steer_eval.run.main import run
from steer_eval.tasks import load_split
from steer_eval.tasks.questions import item_question_hash
from steer_eval.vectors.build import BuildSpec, build_vector
from steer_eval.vectors.format import load_vector, save_vector

SEEN, UNSEEN = 10, 6  # the user task: 10 of demo_sentiment's train questions, 6 of its test questions

USER_TASK = """\
task: mine_seen
tag: [behavior]
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{q}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
"""


def _build(model_dir: Path, task: str, out: Path, **spec) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    items = load_split(task, "train", spec.pop("data_dir", None))
    return save_vector(build_vector(model, tokenizer, BuildSpec(spec.pop("method", "pasf"), task, **spec), items), out)


def _user_task(folder: Path) -> Path:
    """A user's lm-eval task asking some of demo_sentiment's train questions, shouted and spaced differently."""
    rows = [*load_split("demo_sentiment", "train")[:SEEN], *load_split("demo_sentiment", "test")[:UNSEEN]]
    data = folder / "seen.jsonl"
    (folder / "tasks").mkdir()
    data.write_text(
        "".join(
            json.dumps({"q": "  " + r.stem.upper().replace(" ", "  "), "choices": list(r.options), "label": r.target})
            + "\n"
            for r in rows
        )
    )
    (folder / "tasks" / "mine_seen.yaml").write_text(USER_TASK.format(data=data))
    return folder / "tasks"


def test_a_run_counts_the_items_each_vector_saw_in_training(demo_dir: Path, tmp_path: Path) -> None:
    built = _build(demo_dir, "demo_sentiment", tmp_path / "sentiment.safetensors", layers=[1, 2])
    vector = load_vector(built)
    trained = vector.meta.extra["trained_on"]
    assert (
        trained["task"] == "demo_sentiment"
        and trained["split"] == "train"
        and trained["items"] == len(load_split("demo_sentiment", "train"))
    )
    assert trained["questions"] == sorted({item_question_hash(i) for i in load_split("demo_sentiment", "train")})
    # a vector as another tool (or an older steer-eval) leaves it: no training record (scaled, so that it is
    # another vector: identical tensors would be one vector, with one set of cells)
    bare = dataclasses.replace(vector.meta, extra={k: v for k, v in vector.meta.extra.items() if k != "trained_on"})
    scaled = {key: 1.5 * tensor for key, tensor in vector.directions.items()}
    imported = save_vector(dataclasses.replace(vector, directions=scaled, meta=bare), tmp_path / "imported.safetensors")
    include = _user_task(tmp_path)
    config = RunConfig(
        model="demo",
        vectors=[built, imported],
        tasks=["demo_sentiment", "mine_seen"],
        alphas=[2.0],
        controls=["random:1"],
        limit=SEEN + UNSEEN,
        device="cpu",
        include_path=str(include),
        output=tmp_path / "run",
    )
    result = run(config, progress=False)
    effects = pd.read_csv(tmp_path / "run" / "effects.csv").set_index(["vector", "task"])
    assert effects.loc[("sentiment.safetensors", "demo_sentiment"), "train_overlap"] == 0
    assert effects.loc[("sentiment.safetensors", "mine_seen"), "train_overlap"] == SEEN
    assert effects.loc["imported.safetensors", "train_overlap"].isna().all()  # empty on both tasks
    controls = effects[effects["is_control"]]
    assert len(controls) == 4 and controls["train_overlap"].isna().all()
    line = f"sentiment.safetensors saw {SEEN} of {SEEN + UNSEEN} test items of mine_seen in training"
    assert line in result.summary  # what the run prints
    notes = result.analysis.notes
    assert [n for n in notes if "saw" in n] == [f"{line} (it was built on demo_sentiment's train split)"]
    why = [n for n in notes if "records no training data" in n]
    assert len(why) == 1 and why[0].startswith("imported.safetensors")  # one note, not one per cell
    assert not any("random(" in n for n in notes)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["train_overlap"] == [n for n in notes if "saw" in n]
    assert manifest["vectors"]["sentiment.safetensors"]["trained_on"]["questions"] == trained["questions"]
    assert manifest["vectors"]["imported.safetensors"]["trained_on"] is None
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["notes"] == notes
    report = (tmp_path / "run" / "report.html").read_text()
    assert "seen in training" in report and line in report and "imported.safetensors records no training" in report


def test_caa_vectors_see_no_test_item_of_anthropics_copy(real_model_dir: Path, shared_data: Path, tmp_path) -> None:
    # The split leak this guards against: with a salt per task, 61 of airisk_corrigible_neutral_hhh's 93 test
    # items were caa_corrigible_neutral_hhh train items.
    built = _build(
        real_model_dir,
        "caa_corrigible_neutral_hhh",
        tmp_path / "corrigible.safetensors",
        method="caa",
        layers=[1],
        data_dir=shared_data,
    )
    config = RunConfig(
        model=str(real_model_dir),
        vectors=[built],
        tasks=["caa_corrigible_neutral_hhh", "airisk_corrigible_neutral_hhh"],
        alphas=[1.0],
        device="cpu",
        data_dir=str(shared_data),
        output=tmp_path / "run",
    )
    effects = run(config, progress=False).analysis.effects.set_index("task")
    assert effects.loc["se_airisk_corrigible_neutral_hhh", "n"] == 77
    assert effects["train_overlap"].tolist() == [0, 0]


def test_a_damaged_training_record_is_refused_with_one_line(tmp_path: Path) -> None:
    import torch

    from steer_eval.errors import VectorFileError
    from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
    from steer_eval.vocab import Site

    record = {"task": "demo_facts", "split": "train", "items": 1, "questions": ["0123456789abcdef"]}
    vector = SteeringVector({SiteKey(Site.RESID, 0): torch.ones(8)}, VectorMeta(extra={"trained_on": record}))
    assert load_vector(save_vector(vector, tmp_path / "fine.safetensors")).meta.extra["trained_on"] == record
    vector.meta.extra["trained_on"] = {**record, "questions": ["not-a-hash"]}
    save_vector(vector, tmp_path / "damaged.safetensors")
    with pytest.raises(VectorFileError, match=r"damaged\.safetensors: malformed training record"):
        load_vector(tmp_path / "damaged.safetensors")
