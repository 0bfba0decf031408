"""What the gate writes: a plain table, JUnit XML (one test case per expectation check), and a Markdown
summary for a CI job summary (e.g. GitHub's $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from steer_eval.atomic import atomic_path
from steer_eval.check.gate import Outcome


def table(outcomes: list[Outcome]) -> str:
    header = f"{'expectation':<48} {'check':<12} {'measured':<14} {'interval':<18} result"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        lines.append(
            f"{o.expectation.name[:48]:<48} {o.check:<12} {o.measured:<14} {o.interval:<18} "
            f"{'PASS' if o.passed else 'FAIL'}  {o.detail}"
        )
    failed = sum(not o.passed for o in outcomes)
    lines.append(
        f"\n{len(outcomes) - failed} of {len(outcomes)} checks hold" + (f"; {failed} FAILED" if failed else "")
    )
    return "\n".join(lines)


def write_junit(outcomes: list[Outcome], path: Path) -> None:
    suite = ET.Element(
        "testsuite",
        name="steer-eval check",
        tests=str(len(outcomes)),
        failures=str(sum(not o.passed for o in outcomes)),
    )
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"steer_eval.{o.check}", name=o.expectation.name)
        if not o.passed:
            failure = ET.SubElement(case, "failure", message=f"{o.check}: {o.measured} {o.interval}")
            failure.text = o.detail
        else:
            ET.SubElement(case, "system-out").text = f"{o.measured} {o.interval}; {o.detail}"
    with atomic_path(path) as tmp:
        ET.ElementTree(suite).write(tmp, encoding="utf-8", xml_declaration=True)


def markdown(outcomes: list[Outcome]) -> str:
    failed = sum(not o.passed for o in outcomes)
    title = "all steering expectations hold" if not failed else f"{failed} steering expectation check(s) FAILED"
    lines = [
        f"### steer-eval check: {title}",
        "",
        "| expectation | check | measured | 95% interval | result | detail |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        cells = [o.expectation.name, o.check, o.measured, o.interval, "pass" if o.passed else "**FAIL**", o.detail]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(outcomes: list[Outcome], path: Path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(markdown(outcomes))
