"""Kinds of tasks a user brings as an lm-eval folder: from tags or metadata, else intelligence + warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from lm_eval.tasks import TaskManager

from steer_eval.tasks import TaskError
from steer_eval.tasks.user_tasks import user_task_kind

TEMPLATE = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files: {{test: data.jsonl}}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{q}}}}"
doc_to_choice: ["a", "b"]
doc_to_target: 0
{extra}
"""


def test_kinds_from_tags_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text('{"q": "x"}\n')
    cases = {
        "tagged_behavior": "tag: [behavior]",
        "se_tagged": "tag: [se_behavior, mine]",
        "meta_kind": "metadata: {kind: intelligence}",
        "untagged": "",
        "both": "tag: [behavior, intelligence]",
    }
    for name, extra in cases.items():
        (tmp_path / f"{name}.yaml").write_text(TEMPLATE.format(name=name, extra=extra))
    manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
    kinds = {name: user_task_kind(manager, name) for name in cases}
    assert kinds["tagged_behavior"].kind == "behavior" and kinds["tagged_behavior"].warning is None
    assert kinds["se_tagged"].kind == "behavior"
    assert kinds["meta_kind"].kind == "intelligence" and kinds["meta_kind"].warning is None
    assert kinds["untagged"].kind == "intelligence" and "neither" in kinds["untagged"].warning
    assert kinds["both"].kind == "intelligence" and "both" in kinds["both"].warning
    with pytest.raises(TaskError, match="knows no task"):
        user_task_kind(manager, "absent")
