"""Token-level view of a multiple-choice item: the context that ends where the options first differ, and
each option's first distinguishing token (the answer letter: "A" of " (A)", " B" of " B", " good").

A model's answer is the argmax over those tokens' logits at the end of the context (PAS's "argmax over
the answer-letter logits"); CAA reads activations at the answer-letter token, i.e. at the end of
context + that token."""

from __future__ import annotations

from dataclasses import dataclass

from steer_eval.tasks.items import MCItem
from steer_eval.tasks.registry import TaskError
from steer_eval.vectors.capture import encode


@dataclass(frozen=True)
class ChoiceTokens:
    context: list[int]  # prompt + any answer prefix the options share (e.g. " (")
    options: list[int]  # first distinguishing token of each option
    prompt_length: int  # tokens of the prompt proper (the context without the shared answer prefix)

    def answer_sequence(self, option: int) -> list[int]:
        return [*self.context, self.options[option]]


def choice_tokens(tokenizer, item: MCItem, add_special_tokens: bool = True) -> ChoiceTokens:
    context = encode(tokenizer, item.prompt, add_special_tokens)
    continuations = []
    for text in item.continuations:
        whole = encode(tokenizer, item.prompt + text, add_special_tokens)
        if whole[: len(context)] == context and len(whole) > len(context):
            continuations.append(whole[len(context) :])
        else:  # the prompt's last token merged with the continuation: score the continuation on its own
            continuations.append(encode(tokenizer, text, False))
    shared = 0
    while all(len(c) > shared + 1 for c in continuations) and len({c[shared] for c in continuations}) == 1:
        shared += 1
    firsts = [c[shared] if len(c) > shared else None for c in continuations]
    if None in firsts or len(set(firsts)) != len(firsts):
        raise TaskError(
            f"item {item.id}: this tokenizer gives the options {list(item.continuations)} no single distinguishing "
            "token after a shared prefix (unknown words map to one token); steer-eval reads a model's answer from "
            "the answer-letter logits, so the options need distinct letters or first words in the model's vocabulary"
        )
    return ChoiceTokens(context=context + continuations[0][:shared], options=firsts, prompt_length=len(context))  # type: ignore[arg-type]
