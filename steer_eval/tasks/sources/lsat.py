"""LSAT (the law school admission test's analytical reasoning, logical reasoning and reading comprehension
sections) as AGIEval collected them (Zhong et al. 2023, github.com/ruixiangcui/AGIEval, MIT; the questions
are LSAC's), from the Hugging Face hub only (`hails/agieval-lsat-{ar,lr,rc}`): five options per question.
One of PAS's three intelligence benchmarks (METHODS.md)."""

from __future__ import annotations

from steer_eval.tasks import hub
from steer_eval.tasks.registry import TaskSpec, register

SECTIONS = {"ar": "analytical reasoning", "lr": "logical reasoning", "rc": "reading comprehension"}

for _section, _title in SECTIONS.items():
    register(
        TaskSpec(
            name=f"lsat_{_section}",
            kind="intelligence",
            family="reasoning",
            desired=f"target: the correct answer ({_title})",
            source=f"https://huggingface.co/datasets/hails/agieval-lsat-{_section} (AGIEval)",
            licence="MIT (AGIEval); questions from LSAC's LSAT, for research",
            loader=lambda _folder: {},
            groups=("lsat",),
            hub=hub.agieval_lsat(_section),
        )
    )
