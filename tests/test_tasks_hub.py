"""Hub copies of the datasets: rows in each hub dataset's own schema become the same kind of items as the
authors' files give; local files win when a folder is given; offline, the error says what to do. The hub
is never contacted here: `datasets.load_dataset` is replaced by in-memory rows."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from steer_eval.tasks import TaskError, get_task, load_split
from steer_eval.tasks.registry import DATA_ENV, _load_cached, _load_hub

SOLUTION = "2 + 3 = <<2+3=5>>5\n#### 5"
HUB_ROWS = {
    ("cais/mmlu", "anatomy"): {
        # a question per split: a train copy of a test question would be dropped (tasks/questions.py)
        split: [
            {"question": f"Which bone ({split})?", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": 2}
        ]
        for split in ("dev", "validation", "test")
    },
    ("allenai/ai2_arc", "ARC-Easy"): {
        split: [
            {
                "id": f"x-{split}",
                "question": f"Why ({split})?",
                "choices": {"text": ["p", "q", "r"], "label": ["1", "2", "3"]},
                "answerKey": "2",
            }
        ]
        for split in ("train", "validation", "test")
    },
    ("allenai/openbookqa", "main"): {
        split: [
            {
                "id": "o1",
                "question_stem": "What?",
                "choices": {"text": ["w", "x", "y", "z"], "label": list("ABCD")},
                "answerKey": "D",
            }
        ]
        for split in ("train", "validation", "test")
    },
    ("openai/gsm8k", "main"): {
        split: [{"question": f"2 + 3 {k} ({split})?", "answer": SOLUTION} for k in range(20)]
        for split in ("train", "test")
    },
    ("truthfulqa/truthful_qa", "multiple_choice"): {
        "validation": [
            {
                "question": f"Q{k}?",
                "mc1_targets": {"choices": ["true", "false 1", "false 2"], "labels": [1, 0, 0]},
                "mc2_targets": {"choices": ["true", "also true", "false"], "labels": [1, 1, 0]},
            }
            for k in range(40)
        ]
    },
    ("stanfordnlp/sst2", None): {
        "train": [{"idx": k, "sentence": f"good film {k}", "label": 1} for k in range(20)],
        "validation": [{"idx": 0, "sentence": "bad film", "label": 0}],
    },
    ("Rowan/hellaswag", None): {
        split: [
            {"activity_label": "Cooking", "ctx": f"A {who} {k}", "endings": ["e0", "e1", "e2", "e3"], "label": "1"}
            for k in range(20)
        ]
        for split, who in (("train", "man"), ("validation", "woman"))
    },
    ("hails/agieval-lsat-lr", None): {
        "test": [
            {
                "query": f"Q: Passage {k}. Which one of the following must be true? Answer Choices: (A)alpha "
                "(B)beta (C)gamma (D)delta (E)epsilon\nA: Among A through E, the answer is",
                "choices": ["(A)alpha", "(B)beta", "(C)gamma", "(D)delta", "(E)epsilon"],
                "gold": [3],
            }
            for k in range(30)
        ]
    },
}


@pytest.fixture
def fake_hub(monkeypatch):
    calls = []

    def load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        if (path, name) not in HUB_ROWS:
            raise ConnectionError(f"Couldn't reach '{path}' on the Hub (offline)")
        return datasets.DatasetDict({s: datasets.Dataset.from_list(r) for s, r in HUB_ROWS[(path, name)].items()})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.delenv(DATA_ENV, raising=False)
    _load_hub.cache_clear()
    _load_cached.cache_clear()
    yield calls
    _load_hub.cache_clear()


def test_hub_rows_become_items(fake_hub) -> None:
    mmlu = load_split("mmlu_anatomy", "test")[0]
    assert mmlu.options == ("a", "b", "c", "d") and mmlu.target == 2 and mmlu.prompt.endswith("D. d\nAnswer:")
    assert len(load_split("mmlu_anatomy", "train")) == 1  # the hub's dev split is the few-shot/train split
    arc = load_split("arc_easy", "validation")[0]
    assert arc.target == 1 and arc.options == ("p", "q", "r")
    book = load_split("openbookqa", "test")[0]
    assert book.target == 3 and book.stem == "Question: What?"
    gsm = load_split("gsm8k", "test")[0]
    assert gsm.reference == "5" and gsm.meta["solution"] == SOLUTION
    assert len(load_split("gsm8k", "train")) + len(load_split("gsm8k", "validation")) == 20
    mc1 = [i for s in ("train", "validation", "test") for i in load_split("truthfulqa_mc1", s)]
    assert len(mc1) == 40 and all(i.options[i.target] == "true" for i in mc1)
    assert len({i.target for i in mc1}) > 1  # shuffled per item
    mc2 = load_split("truthfulqa_mc2", "test")[0]
    assert {mc2.options[i] for i in mc2.correct} == {"true", "also true"}
    sst = load_split("sst2", "test")[0]
    assert sst.options[sst.target] == "negative" and sst.layout == "continuation"
    swag = load_split("hellaswag", "train")[0]
    assert swag.stem == "Cooking: A man 0" and swag.target == 1
    lsat = [i for s in ("train", "validation", "test") for i in load_split("lsat_lr", s)]
    assert len(lsat) == 30 and all(i.options[i.target] == "delta" for i in lsat)
    first = load_split("lsat_lr", "test")[0]
    assert first.stem.startswith("Passage ") and first.stem.endswith("must be true?")
    assert first.options == ("alpha", "beta", "gamma", "delta", "epsilon")
    assert first.prompt.endswith("E. epsilon\nAnswer:") and "Answer Choices" not in first.prompt


def test_local_files_win_when_a_folder_is_given(fake_hub, shared_data: Path) -> None:
    assert len(load_split("mmlu_anatomy", "test", shared_data)) == 135
    assert ("cais/mmlu", "anatomy") not in fake_hub


def test_without_network_or_files_the_error_says_what_to_do(fake_hub) -> None:
    with pytest.raises(TaskError, match="--data-dir"):
        load_split("bbq_age", "train")  # no hub copy
    spec = get_task("mmlu_anatomy")
    object.__setattr__(spec.hub, "path", "nowhere/none")  # make the fake hub fail for this dataset
    try:
        with pytest.raises(TaskError, match=r"could not get .* from the Hugging Face hub .*--data-dir"):
            spec.load()
    finally:
        object.__setattr__(spec.hub, "path", "cais/mmlu")
