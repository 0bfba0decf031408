"""An LLM judge as a scorer, after AxBench (Wu et al. 2025): three ratings per text, each on 0-2 and asked in
its own rubric prompt: the concept (does the text show the task's behaviour), instruction relevance (does it
answer the prompt) and fluency; AxBench's overall score is their harmonic mean. The behaviour score a cell
is judged on is the concept rating scaled to [0, 1]; the others are recorded beside it (`relevance`,
`judge_fluency`, `judge_overall`).

`judge:MODEL` runs the judge on a local Hugging Face causal LM; `judge:MODEL@URL` asks an OpenAI-compatible
endpoint (a vLLM or `transformers serve` server, through the `openai` client), concurrently. The judge answers
greedily; the rating is read from "Rating: [[k]]". An answer without one is a missing value, counted and
reported (`judge_missing`), never a 0. A judge that cannot be reached or loaded is one line before any
generation; one that stops answering mid-run ends the run with one line, and the finished cells stay (the
same command resumes, judging only what is missing)."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from statistics import harmonic_mean
from typing import Any

from steer_eval.scoring.registry import Scorer, ScorerError, register_factory

RATINGS = ("concept", "instruction", "fluency")
TOP = 2  # every rating is on 0 .. TOP
_RATING = re.compile(r"rating\s*:?\s*\[\[\s*(\d+(?:\.\d+)?)\s*\]\]", re.IGNORECASE)
_ENDING = (
    "First explain briefly, then rate on a scale from 0 to 2 (0: not at all, 1: partly or awkwardly, 2: fully), "
    'in exactly this format: "Rating: [[score]]".'
)
RUBRICS = {
    "concept": (
        "You are an impartial judge. Decide whether the text below shows this behaviour: {concept}. Judge only "
        "whether the behaviour is there, not grammar or coherence. " + _ENDING + "\n\n"
        "[Behaviour]\n{concept}\n\n[Text]\n{text}\n"
    ),
    "instruction": (
        "You are an impartial judge. Decide whether the text below is a relevant reply to the instruction. "
        "Judge only relevance, not grammar or quality. " + _ENDING + "\n\n"
        "[Instruction]\n{instruction}\n\n[Text]\n{text}\n"
    ),
    "fluency": (
        "You are an impartial judge. Rate the fluency of the text below: natural phrasing, no broken grammar, no "
        "repetition. Judge only fluency, not relevance or content. " + _ENDING + "\n\n[Text]\n{text}\n"
    ),
}
INSTRUCTION_CHARS = 1500  # the end of a long prompt (few-shot examples before it) is what the text answers


def rubric(kind: str, text: str, concept: str = "", instruction: str = "") -> str:
    return RUBRICS[kind].format(text=text, concept=concept, instruction=instruction[-INSTRUCTION_CHARS:])


def parse_rating(answer: str) -> float | None:
    """The last "Rating: [[k]]" in the judge's answer, if k is on the scale; None otherwise."""
    found = _RATING.findall(answer or "")
    if not found:
        return None
    value = float(found[-1])
    return value if 0 <= value <= TOP else None


class JudgeUnavailable(ScorerError):
    """The judge stopped answering during a run (`reason`: the client's words, or what was wrong with the reply)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class JudgeScorer(Scorer):
    model: str = ""
    url: str | None = None
    concurrency: int = 8
    max_tokens: int = 200
    _state: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ---- set-up ----------------------------------------------------------------------------------

    def check(self) -> None:
        if self.url:
            try:
                served = [str(getattr(model, "id", model)) for model in self._client().models.list()]
            except Exception as exc:  # the client's connection, timeout and status errors
                raise ScorerError(
                    f"scorer {self.name}: the judge endpoint {self.url} does not answer ({_first_line(exc)}); start "
                    "the server (e.g. `vllm serve MODEL` or `transformers serve MODEL`) or fix --judge-url"
                ) from None
            if self.model not in served:  # some servers load models on request: ask once before calling it absent
                try:
                    self._ask_endpoint("Reply with 1.", max_tokens=1)
                except JudgeUnavailable as exc:
                    raise ScorerError(
                        f"scorer {self.name}: the judge endpoint {self.url} does not serve {self.model!r} "
                        f"({exc.reason}); it lists {', '.join(served[:8]) or 'no model'}: name one of them, "
                        "as judge:MODEL@URL"
                    ) from None
        else:
            self._local()

    def _client(self):
        if "client" not in self._state:
            from openai import OpenAI

            key = os.environ.get("OPENAI_API_KEY", "not-needed")
            self._state["client"] = OpenAI(base_url=self.url, api_key=key, timeout=120.0, max_retries=2)
        return self._state["client"]

    def _local(self):
        if "local" not in self._state:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model)
                model = AutoModelForCausalLM.from_pretrained(self.model).eval()
            except (OSError, ValueError) as exc:
                raise ScorerError(
                    f"scorer {self.name}: could not load the judge model {self.model!r} ({_first_line(exc)}); give a "
                    "local folder or hub id of a causal LM, or serve it and write judge:MODEL@URL"
                ) from None
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            self._state["local"] = (tokenizer, model)
        return self._state["local"]

    # ---- asking ----------------------------------------------------------------------------------

    def _ask_endpoint(self, prompt: str, max_tokens: int | None = None) -> str:
        try:
            reply = self._client().chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0.0,
                max_tokens=max_tokens or self.max_tokens,
            )
        except Exception as exc:  # connection lost, timeouts, server errors after the client's retries
            raise JudgeUnavailable(
                f"scorer {self.name}: the judge at {self.url} stopped answering ({_first_line(exc)}); the finished "
                "cells are kept: run the same command again to resume (only what is missing is computed and judged)",
                _first_line(exc),
            ) from None
        try:
            content = reply.choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError):  # a 200 reply of another shape (a proxy's page)
            content = False
        if content is not None and not isinstance(content, str):
            raise JudgeUnavailable(
                f"scorer {self.name}: the judge at {self.url} answered with something that is not an OpenAI chat "
                "completion; point --judge-url at the server's OpenAI-compatible base (usually ending in /v1). The "
                "finished cells are kept: run the same command again to resume",
                "its reply is not a chat completion",
            )
        return content or ""

    def _ask_local(self, prompts: list[str], batch: int = 8) -> list[str]:
        import torch

        tokenizer, model = self._local()
        answers = []
        for start in range(0, len(prompts), batch):
            chunk = prompts[start : start + batch]
            if tokenizer.chat_template:
                chunk = [
                    tokenizer.apply_chat_template(
                        [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                    )
                    for p in chunk
                ]
            encoded = tokenizer(chunk, return_tensors="pt", padding=True)
            with torch.no_grad():
                out = model.generate(**encoded, max_new_tokens=self.max_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)  # fmt: skip
            answers += tokenizer.batch_decode(out[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        return answers

    def ask(self, prompts: list[str]) -> list[str]:
        if not self.url:
            return self._ask_local(prompts)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._ask_endpoint, prompts))

    # ---- scoring ---------------------------------------------------------------------------------

    def score_details(self, texts, references, prompts=None, concept: str = "") -> list[dict[str, float | None]]:
        prompts = list(prompts or [""] * len(texts))
        todo = [i for i, text in enumerate(texts) if text.strip()]  # nothing written: nothing to judge
        asked = [rubric(kind, texts[i], concept, prompts[i]) for i in todo for kind in RATINGS]
        answers = self.ask(asked) if asked else []
        out: list[dict[str, float | None]] = [dict.fromkeys(("score", "relevance", "judge_fluency", "judge_overall"))
                                              for _ in texts]  # fmt: skip
        for n, i in enumerate(todo):
            concept_r, instruction_r, fluency_r = (parse_rating(a) for a in answers[3 * n : 3 * n + 3])
            ratings = [concept_r, instruction_r, fluency_r]
            out[i] = {
                "score": None if concept_r is None else concept_r / TOP,
                "relevance": None if instruction_r is None else instruction_r / TOP,
                "judge_fluency": None if fluency_r is None else fluency_r / TOP,
                "judge_overall": None if None in ratings else harmonic_mean([r / TOP for r in ratings]),
            }
        return out

    def score_all(self, texts, references, prompts=None, concept: str = "") -> list[float | None]:
        return [d["score"] for d in self.score_details(texts, references, prompts, concept)]

    def describe(self) -> dict:
        return {**super().describe(), "model": self.model, "url": self.url, "rubrics": RUBRICS}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def judge_scorer(name: str, arguments: str) -> JudgeScorer:
    model, at, url = arguments.partition("@")
    if not model:
        raise ScorerError(f"scorer {name!r}: write a judge as judge:MODEL (a local model) or judge:MODEL@URL")
    where = f"served at {url}" if at else "run locally"
    return JudgeScorer(
        name, f"an LLM judge's rating (0-2, scaled to 0-1) of the behaviour in the text ({model}, {where})",
        model=model, url=url or None,
    )  # fmt: skip


register_factory("judge", judge_scorer)
