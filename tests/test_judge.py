"""The LLM judge as a scorer, against a real OpenAI-compatible server: `transformers serve` started by the test
on a tiny judge trained for the purpose (tests/judge_model.py), asked through the `openai` client. The judge
rates the demo's generations the way the rule scorer does (the planted mood push helps by both), its three
ratings are recorded, an unreachable judge (or one that does not serve the model named) is one line before any
generation, a judge that stops answering mid-run loses no finished cell: the resumed run computes and judges
only what is missing, and an endpoint whose replies are not chat completions is one line, not a traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from steer_eval.cli import main
from steer_eval.demo.model import DemoRecipe
from steer_eval.demo.run import planted_vector
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.scoring import get_scorer
from steer_eval.scoring.judge import RATINGS, parse_rating
from steer_eval.vectors.format import save_vector

START_TIMEOUT = 120  # seconds for the server to answer /health


@pytest.fixture(scope="session")
def judge_dir(tmp_path_factory) -> Path:
    from judge_model import train_judge

    return train_judge(tmp_path_factory.mktemp("judge"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`transformers serve JUDGE` on a free local port, as a user runs a judge."""

    def __init__(self, model: Path, log: Path) -> None:
        self.model, self.log, self.port = model, log, _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = shutil.which("transformers") or str(Path(sys.executable).with_name("transformers"))
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [command, "serve", str(self.model), "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.skip(f"transformers serve exited with {self.process.returncode}: {self.log.read_text()[-400:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.skip(f"transformers serve did not answer within {START_TIMEOUT} s: {self.log.read_text()[-400:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def server(judge_dir: Path, tmp_path_factory):
    served = Server(judge_dir, tmp_path_factory.mktemp("serve") / "serve.log")
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def mood_vector(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vectors") / "planted-mood.safetensors"
    save_vector(planted_vector("mood", DemoRecipe()), path)
    return path


def _args(vector: Path, output: Path, scorer: str, alphas: str = "1") -> list[str]:
    return ["--model", "demo", "--vectors", str(vector), "--tasks", "demo_mood_gen", "--alphas", alphas,
            "--positions", "generated", "--limit", "24", "--device", "cpu", "--batch-size", "32",
            "--scorer", scorer, "--output", str(output)]  # fmt: skip


def test_ratings_are_read_from_the_judges_answer_and_missing_otherwise() -> None:
    assert parse_rating("The reply is positive. Rating: [[2]]") == 2.0
    assert parse_rating("rating : [[ 1 ]] ... Rating: [[0]]") == 0.0, "the last rating counts"
    assert parse_rating("I would say 2") is None and parse_rating("Rating: [[7]]") is None


def test_the_served_judge_agrees_with_the_rule_scorer(server: Server, judge_dir: Path, mood_vector, tmp_path) -> None:
    scorer = f"judge:{judge_dir}@{server.url}"
    assert main(_args(mood_vector, tmp_path / "judged", scorer)) == 0
    assert main(_args(mood_vector, tmp_path / "ruled", "demo_mood")) == 0
    judged = pd.read_csv(tmp_path / "judged" / "effects.csv").iloc[0]
    ruled = pd.read_csv(tmp_path / "ruled" / "effects.csv").iloc[0]
    assert judged.scorer == scorer and judged.judge_missing <= 2
    assert ruled.delta > 0.2 and judged.delta > 0.2 and judged.verdict == ruled.verdict == "helps"
    assert not pd.isna(judged.relevance_delta)
    manifest = json.loads((tmp_path / "judged" / "manifest.json").read_text())
    recorded = manifest["scorers"][scorer]
    assert (
        recorded["model"] == str(judge_dir)
        and recorded["url"] == server.url
        and set(recorded["rubrics"]) == set(RATINGS)
    )
    cell = json.loads(next((tmp_path / "judged" / "cells").glob("*.json")).read_text())
    record = cell["records"][0]
    assert {"relevance", "judge_fluency", "judge_overall"} <= set(record)


def test_a_local_judge_gives_the_served_judges_ratings(server: Server, judge_dir: Path) -> None:
    from judge_model import CONCEPT

    texts = ["it was lovely .", "it was silly .", "silly silly silly silly"]
    prompts = ["user : how was the film with naba ? bot :"] * 3
    served = get_scorer(f"judge:{judge_dir}@{server.url}").score_details(texts, [""] * 3, prompts, CONCEPT)
    local = get_scorer(f"judge:{judge_dir}").score_details(texts, [""] * 3, prompts, CONCEPT)
    assert served == local
    assert [d["score"] for d in served] == [1.0, 0.0, 0.0] and served[2]["judge_fluency"] == 0.0
    assert served[0]["judge_overall"] == 1.0 and served[1]["judge_overall"] == 0.0  # a harmonic mean with a 0
    assert len(RATINGS) == 3


def test_an_unreachable_judge_is_one_line_before_any_generation(mood_vector, tmp_path, capsys) -> None:
    port = _free_port()
    code = main(_args(mood_vector, tmp_path / "r", f"judge:some-judge@http://127.0.0.1:{port}/v1"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT and len(err) == 1 and "does not answer" in err[0]
    assert not (tmp_path / "r" / "cells").exists() or not list((tmp_path / "r" / "cells").iterdir())


def test_a_judge_that_stops_answering_loses_no_finished_cell(judge_dir, mood_vector, tmp_path, monkeypatch, capsys):
    import steer_eval.run.execute as execute

    served = Server(judge_dir, tmp_path / "serve.log")
    served.start()
    scored = []
    original = execute.add_text_scores

    def stop_after_two(records, samples, scorer, lm, **kwargs):
        if len(scored) == 2:
            served.stop()  # the judge goes away in the middle of the run
        original(records, samples, scorer, lm, **kwargs)
        scored.append(scorer)

    monkeypatch.setattr(execute, "add_text_scores", stop_after_two)
    args = _args(mood_vector, tmp_path / "run", f"judge:{judge_dir}@{served.url}", alphas="0.5,1,2")
    try:
        assert main(args) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("steer-eval: error:")]
        assert "Traceback" not in err and len(errors) == 1, err[-2000:]  # progress bars aside: one line
        assert "stopped answering" in errors[0] and "run the same command again" in errors[0]
        assert len(list((tmp_path / "run" / "cells").glob("*.json"))) == 2, "the two finished cells are kept"
        monkeypatch.setattr(execute, "add_text_scores", original)
        served.start()  # the same port again: the command is unchanged
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "2 computed here, 2 already there" in out
    finally:
        served.stop()


def test_a_model_the_endpoint_does_not_serve_is_one_line_before_any_generation(
    server: Server, mood_vector, tmp_path, capsys
) -> None:
    """The endpoint answers, but not for this model (a typo in judge:MODEL@URL): said before generating."""
    code = main(_args(mood_vector, tmp_path / "r", f"judge:no-such-judge-model@{server.url}"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT and len(err) == 1 and "does not serve 'no-such-judge-model'" in err[0], err
    assert not (tmp_path / "r" / "cells").exists() or not list((tmp_path / "r" / "cells").iterdir())


class _NotAChatServer(BaseHTTPRequestHandler):
    """What sits behind a wrong --judge-url: it lists the model, then answers chat requests with a web page."""

    def do_GET(self) -> None:  # /v1/models
        self._send("application/json", json.dumps({"object": "list", "data": [{"id": "some-judge"}]}))

    def do_POST(self) -> None:  # /v1/chat/completions
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send("text/html", "<html><body>Welcome</body></html>")

    def _send(self, kind: str, body: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


def test_a_reply_that_is_not_a_chat_completion_is_one_line_not_a_traceback(mood_vector, tmp_path, capsys) -> None:
    web = ThreadingHTTPServer(("127.0.0.1", 0), _NotAChatServer)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        code = main(_args(mood_vector, tmp_path / "r", f"judge:some-judge@http://127.0.0.1:{web.server_port}/v1"))
    finally:
        web.shutdown()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("steer-eval: error:")]
    assert code == EXIT_BAD_INPUT and "Traceback" not in err and len(errors) == 1, err[-2000:]
    assert "not an OpenAI chat completion" in errors[0]
