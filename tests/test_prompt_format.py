"""Prompts shown through a chat template (and a system instruction) the same way for building, selection and
the run: the format reaches the model, is recorded in the vector and the cell keys, and a vector used on
prompts shown otherwise than it was read on gets a warning; a model without a chat template is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.prompt_format import PromptFormat
from steer_eval.vectors.format import load_vector

# the system turn first, closed by the demo's sentence end, then the user's text as it is; the answer follows
# after a space (a chat model's answer starts its own turn; lm-eval drops the target delimiter under a template)
TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }} . {% else %}{{ m['content'] }}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %} {% endif %}"
)
HAPPY = "mood : happy"


@pytest.fixture(scope="module")
def chat_demo(demo_dir: Path, tmp_path_factory) -> Path:
    """The demo model with a chat template (a copy: the cached model stays as it is)."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("chat-demo") / "demo-chat"
    shutil.copytree(demo_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(folder)
    return folder


def test_a_format_renders_prompts_and_says_what_it_is(chat_demo: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(chat_demo)
    assert PromptFormat().render(tokenizer, "q") == "q" and PromptFormat().plain
    assert PromptFormat(True, HAPPY).render(tokenizer, "user : hi") == "mood : happy . user : hi "
    assert PromptFormat(False, "be kind").render(tokenizer, "q") == "be kind\n\nq"
    assert "system instruction 'mood : happy'" in PromptFormat(True, HAPPY).words()


def _build(model: Path, out: Path, *extra: str) -> dict:
    args = ["vectors", "build", "--method", "pasf", "--model", str(model), "--task", "demo_sentiment",
            "--layers", "1", "--max-items", "120", "--device", "cpu", "-o", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    return load_vector(out).meta.extra


def test_building_reads_on_the_formatted_prompts_and_records_the_format(chat_demo: Path, tmp_path: Path) -> None:
    plain = _build(chat_demo, tmp_path / "plain.safetensors")
    chat = _build(chat_demo, tmp_path / "chat.safetensors", "--apply-chat-template", "--system-instruction", HAPPY)
    assert plain["prompt_format"] == {"chat_template": False, "system_instruction": None}
    assert chat["prompt_format"] == {"chat_template": True, "system_instruction": HAPPY}
    a, b = load_vector(tmp_path / "plain.safetensors"), load_vector(tmp_path / "chat.safetensors")
    key = next(iter(a.directions))
    assert not a.directions[key].allclose(b.directions[key]), "the happy tag changes what the vector reads"
    assert chat["trained_on"] == plain["trained_on"], "the questions it saw are the items', not their rendering"


def _run(model: Path, vector: Path, out: Path, *extra: str) -> int:
    args = ["--model", str(model), "--vectors", str(vector), "--tasks", "demo_sentiment", "--alphas", "1",
            "--limit", "60", "--device", "cpu", "--output", str(out), *extra]  # fmt: skip
    return main(args)


def test_a_run_shows_prompts_in_the_format_and_warns_on_a_mismatch(chat_demo: Path, tmp_path: Path, capsys) -> None:
    vector = tmp_path / "chat.safetensors"
    _build(chat_demo, vector, "--apply-chat-template", "--system-instruction", HAPPY)
    capsys.readouterr()
    assert _run(chat_demo, vector, tmp_path / "chat", "--apply-chat-template", "--system-instruction", HAPPY) == 0
    assert "was built on" not in capsys.readouterr().err
    assert _run(chat_demo, vector, tmp_path / "plain") == 0
    assert "was built on the chat template with the system instruction 'mood : happy'" in capsys.readouterr().err

    def baseline(folder: Path) -> tuple[str, float]:
        for path in (folder / "cells").glob("*.json"):
            cell = json.loads(path.read_text())
            if cell["cell"]["vector"] is None:
                records = cell["records"]
                return path.name, sum(r["correct"] for r in records) / len(records)
        raise AssertionError("no baseline cell")

    (chat_key, chat_rate), (plain_key, plain_rate) = baseline(tmp_path / "chat"), baseline(tmp_path / "plain")
    assert chat_key != plain_key, "the format is part of the cell key"
    assert chat_rate > plain_rate + 0.2, "the system instruction (the world's happy tag) reached the model"
    manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert any("was built on" in w for w in manifest["warnings"])


def test_a_chat_template_the_model_lacks_is_one_line(demo_dir: Path, tmp_path: Path, capsys) -> None:
    vector = tmp_path / "v.safetensors"
    _build(demo_dir, vector)
    capsys.readouterr()
    assert _run(demo_dir, vector, tmp_path / "r", "--apply-chat-template") == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no chat template" in err[0]


def test_a_plain_system_instruction_reaches_a_run_as_vector_building_renders_it(
    demo_dir: Path, mood_vector: Path, tmp_path: Path
) -> None:
    """Without a chat template lm-eval puts the system instruction straight before the prompt: runs saw
    'mood : happyuser : ...' while vector building (PromptFormat.render) saw 'mood : happy\\n\\nuser : ...'."""
    out = tmp_path / "run"
    args = ["--model", "demo", "--vectors", str(mood_vector), "--tasks", "demo_mood_gen", "--alphas", "1",
            "--limit", "4", "--device", "cpu", "--system-instruction", HAPPY, "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    cells = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    prompts = [r["prompt"] for c in cells for r in c["records"] if r.get("prompt")]
    assert prompts and all(p.startswith(f"{HAPPY}\n\n") for p in prompts), prompts[:2]
    first = prompts[0][len(HAPPY) + 2 :]
    assert prompts[0] == PromptFormat(system_instruction=HAPPY).render(None, first)
