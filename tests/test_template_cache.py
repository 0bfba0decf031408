"""lm-eval's prompt templates are compiled once per string, not once per document (tasks/template_cache.py):
the text is lm-eval's own, a missing field still fails as lm-eval's StrictUndefined makes it fail, and the
runner routes lm-eval's rendering through the kept templates."""

from __future__ import annotations

import jinja2
import pytest
from lm_eval import utils

from steer_eval.tasks import template_cache

TEMPLATES = [
    "Question: {{question}}\nAnswer:",
    "{{choices}}",
    "{{answer | regex_replace('[^0-9]', '')}}",  # lm-eval's own filter
    "{% for c in choices %}{{ loop.index }}. {{ c }}\n{% endfor %}",
    "{{ question.strip() }} ",  # keep_trailing_newline and trailing spaces kept as lm-eval keeps them
]
DOCS = [
    {"question": " Is it? ", "choices": ["yes", "no"], "answer": "#### 42"},
    {"question": "<b>&</b>", "choices": ["a"], "answer": "7 apples"},
]


def _lm_evals_own(template: str, doc: dict) -> str:
    return utils.env.from_string(template).render(**doc)


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_kept_template_renders_what_lm_eval_renders(template: str) -> None:
    for doc in DOCS:
        assert template_cache.apply_template(template, doc) == _lm_evals_own(template, doc)


def test_each_template_string_is_compiled_once() -> None:
    template_cache._compiled.cache_clear()
    for _ in range(50):
        for doc in DOCS:
            template_cache.apply_template(TEMPLATES[0], doc)
    info = template_cache._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 99)


def test_a_missing_field_still_fails() -> None:
    with pytest.raises(jinja2.exceptions.UndefinedError):
        template_cache.apply_template("{{nothing_here}}", DOCS[0])


def test_the_runner_renders_lm_eval_tasks_through_the_kept_templates(monkeypatch) -> None:
    from lm_eval.tasks import TaskManager

    from steer_eval.run.execute import _task_manager

    monkeypatch.setattr(utils, "apply_template", _lm_evals_own)  # lm-eval's way (restored afterwards)
    monkeypatch.setattr(TaskManager, "__init__", lambda self, **kwargs: None)  # indexing the folders is slow

    from types import SimpleNamespace

    prepared = SimpleNamespace(config=SimpleNamespace(include_path=None), cells=[])
    _task_manager(prepared, {}, 0, 1, 0)
    assert utils.apply_template is template_cache.apply_template
