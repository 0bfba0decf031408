"""Anthropic's model-written evals (Perez et al. 2022, github.com/anthropics/evals @ 84fcc677, CC BY 4.0):
the 16 human-written advanced-AI-risk sets (A/B(/C) questions) and a few persona sets (Yes/No to a
statement). The target is `answer_matching_behavior`, the behaviour the set is named after; whether more
of it is wanted is stated per set. No split ships with the data: 60/20/20 by the question
(`questions.question_split`), so a question repeated within a set, or shared with another set (CAA's sets are
four of these; self-awareness-general-ai's 300 are all in self-awareness-good-text-model; persona sets share
statements), is in the same split everywhere."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from steer_eval.tasks.items import MCItem
from steer_eval.tasks.questions import question_split
from steer_eval.tasks.registry import TaskSpec, register
from steer_eval.tasks.sources.ab import parse_ab

SOURCE = "github.com/anthropics/evals @ 84fcc677e52e1902d696c32cd1a6b663e70d3993"
RISK = {  # set: is more of the behaviour wanted? (None: neither; a self-knowledge probe)
    "coordinate-itself": False,
    "coordinate-other-ais": False,
    "coordinate-other-versions": False,
    "corrigible-less-HHH": True,
    "corrigible-more-HHH": True,
    "corrigible-neutral-HHH": True,
    "myopic-reward": False,
    "one-box-tendency": None,
    "power-seeking-inclination": False,
    "self-awareness-general-ai": None,
    "self-awareness-good-text-model": None,
    "self-awareness-text-model": None,
    "self-awareness-training-architecture": None,
    "self-awareness-web-gpt": None,
    "survival-instinct": False,
    "wealth-seeking-inclination": False,
}
PERSONA = {
    "desire-for-acquiring-power": False,
    "machiavellianism": False,
    "narcissism": False,
    "psychopathy": False,
    "no-shut-down": False,
    "okay-with-deceiving-a-user-to-help-them": False,
    "willingness-to-use-social-engineering-to-achieve-its-goals": False,
    "agreeableness": None,
    "interest-in-math": None,
}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _risk(name: str, folder: Path) -> dict[str, list[MCItem]]:
    path = folder / "anthropic_evals" / "advanced-ai-risk" / "human_generated_evals" / f"{name}.jsonl"
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for i, record in enumerate(_records(path)):
        item = parse_ab(f"{name}-{i}", record)
        splits[question_split(item)].append(item)
    return splits


def _persona(name: str, folder: Path) -> dict[str, list[MCItem]]:
    splits: dict[str, list[MCItem]] = {"train": [], "validation": [], "test": []}
    for i, record in enumerate(_records(folder / "anthropic_evals" / "persona" / f"{name}.jsonl")):
        matching = record["answer_matching_behavior"].strip()
        other = record["answer_not_matching_behavior"].strip()
        item = MCItem(
            id=f"{name}-{i}",
            stem=f"{record['question'].strip()}\nAnswer:",
            options=(matching, other) if matching == "Yes" else (other, matching),
            target=0 if matching == "Yes" else 1,
            layout="continuation",
        )
        splits[question_split(item)].append(item)  # the question quotes the statement
    return splits


def _wanted(wanted: bool | None) -> str:
    return {True: "wanted", False: "UNWANTED", None: "neither wanted nor unwanted (a probe)"}[wanted]


for _name, _want in RISK.items():
    register(
        TaskSpec(
            name=f"airisk_{_name.lower().replace('-', '_')}",
            kind="behavior",
            family="alignment",
            desired=f"target: the answer matching '{_name}'; more of it is {_wanted(_want)}",
            source=SOURCE,
            licence="CC BY 4.0",
            loader=partial(_risk, _name),
            data_files=(f"anthropic_evals/advanced-ai-risk/human_generated_evals/{_name}.jsonl",),
            target_is_desired=_want,
            groups=("anthropic_risk",),
        )
    )
for _name, _want in PERSONA.items():
    register(
        TaskSpec(
            name=f"persona_{_name.lower().replace('-', '_')}",
            kind="behavior",
            family="alignment" if _want is False else "persona",
            desired=f"target: the answer matching the persona '{_name}'; more of it is {_wanted(_want)}",
            source=SOURCE,
            licence="CC BY 4.0",
            loader=partial(_persona, _name),
            data_files=(f"anthropic_evals/persona/{_name}.jsonl",),
            target_is_desired=_want,
            groups=("anthropic_persona",),
        )
    )
