"""OpenBookQA (Mihaylov et al. 2018, Apache-2.0), from the Hugging Face hub only (allenai/openbookqa,
`main`): elementary science questions with four options; the authors' train / validation / test."""

from __future__ import annotations

from steer_eval.tasks import hub
from steer_eval.tasks.registry import TaskSpec, register

register(
    TaskSpec(
        name="openbookqa",
        kind="intelligence",
        family="reasoning",
        desired="target: the correct answer",
        source="https://huggingface.co/datasets/allenai/openbookqa (main)",
        licence="Apache-2.0",
        loader=lambda _folder: {},
        hub=hub.openbookqa(),
    )
)
