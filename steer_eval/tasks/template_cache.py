"""lm-eval's prompt templates compiled once instead of once per document.

lm-eval renders a task's `doc_to_text`, `doc_to_target` and `doc_to_choice` templates through
`lm_eval.utils.apply_template`, which compiles the template from its string on every call. A run asks for
them for every document of every cell (building requests, scoring, and our records), so `steer-eval demo`
compiled the same few dozen strings about 460,000 times: more than half of its time. `install()` puts a
function in its place that keeps each compiled template (same jinja2 environment, same rendering, so the same
text) and renders it per document. It is installed by the runner where it loads lm-eval's tasks; lm-eval used
on its own is left as it is."""

from __future__ import annotations

from functools import lru_cache

TEMPLATES_KEPT = 4096  # distinct template strings: a grid of many user tasks stays far below this


@lru_cache(maxsize=TEMPLATES_KEPT)
def _compiled(template: str):
    from lm_eval import utils

    return utils.env.from_string(template)


def apply_template(template: str, doc: dict) -> str:
    """lm-eval's `apply_template`, with the compiled template kept."""
    return _compiled(template).render(**doc)


def install() -> None:
    """Route lm-eval's template rendering through the kept templates (idempotent)."""
    from lm_eval import utils

    utils.apply_template = apply_template
