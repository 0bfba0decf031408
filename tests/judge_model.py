"""A tiny LLM judge built for the tests: a 2-layer Llama trained in about 15 s to answer steer-eval's three rubric
prompts (scoring/judge.py) about demo-world replies the way a careful judge would: the concept rubric rates 2
for a positive reply word and 0 otherwise, instruction relevance 2 when the text replies with a reply word,
fluency 2 when no word repeats. Its tokenizer knows only the words that matter (the rest of a rubric is
<unk>), and its chat template passes the message through, so `transformers serve` can serve it."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from steer_eval.demo.world import NEGATIVE, POSITIVE
from steer_eval.scoring.judge import RATINGS, rubric

MARKERS = ["[Behaviour]", "[Instruction]", "[Text]", "it", "was", ".", "Rating:", "[[0]]", "[[1]]", "[[2]]"]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CONCEPT = "a positive reply (scored by the demo lexicon)"


def judge_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate([*SPECIALS, *MARKERS, *POSITIVE, *NEGATIVE])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    return tokenizer


def true_rating(kind: str, text: str) -> int:
    words = text.split()
    if kind == "concept":
        return 2 if any(w in POSITIVE for w in words) else 0  # the demo's replies hold one reply word
    if kind == "instruction":
        return 2 if any(w in POSITIVE or w in NEGATIVE for w in words) else 0
    return 2 if len(words) == len(set(words)) else 0


def _texts(rng: random.Random) -> list[str]:
    replies = [*POSITIVE, *NEGATIVE]
    texts = [f"it was {w} ." for w in replies] + [f"{w} {w} {w} {w}" for w in replies]
    texts += [f"it was {w} {w} ." for w in replies] + ["it was", "it was .", "was was", "it it it"] * 4
    rng.shuffle(texts)
    return texts


def train_judge(directory: Path, steps: int = 600, seed: int = 0) -> Path:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    tokenizer = judge_tokenizer()
    examples = []
    for text in _texts(rng):
        for kind in RATINGS:
            prompt = tokenizer(rubric(kind, text, CONCEPT, "user : how was the film with naba ? bot :"))["input_ids"]
            answer = tokenizer(f"Rating: [[{true_rating(kind, text)}]]")["input_ids"] + [tokenizer.eos_token_id]
            examples.append((prompt, answer))
    width = max(len(p) + len(a) for p, a in examples)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=max(256, width + 16), pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = rng.sample(examples, 32)
        ids = torch.full((32, width), tokenizer.pad_token_id)
        labels = torch.full((32, width), -100)
        mask = torch.zeros((32, width), dtype=torch.long)
        for row, (prompt, answer) in enumerate(batch):
            tokens = prompt + answer
            ids[row, : len(tokens)] = torch.tensor(tokens)
            labels[row, len(prompt) : len(tokens)] = torch.tensor(answer)
            mask[row, : len(tokens)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
