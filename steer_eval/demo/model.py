"""The demo model's recipe and training: a word-level tokenizer over the world's vocabulary and a small
Llama trained on the world's documents, deterministically from the recipe's seed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from dataclasses import dataclass

import torch
from tqdm import tqdm

from steer_eval.demo.world import World

# Bump when the world or the training procedure changes: cached models built by older code are then rebuilt.
WORLD_VERSION = 6
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")


@dataclass(frozen=True)
class DemoRecipe:
    seed: int = 0
    hidden_size: int = 64
    layers: int = 4
    heads: int = 4
    steps: int = 2400
    batch_size: int = 28
    learning_rate: float = 3e-3
    max_length: int = 128
    # The seed of the initial weights (the documents' order stays the world's); None: the world's seed.
    # Training is chaotic: the same recipe on another CPU (other kernels, other rounding) can learn the
    # weaker behaviour less well, which is why the default model's weights ship with the package.
    init_seed: int | None = 2

    @property
    def world(self) -> World:
        return World(self.seed)

    def fingerprint(self) -> str:
        text = json.dumps({"world_version": WORLD_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_tokenizer(world: World):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *world.vocabulary])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=128,
    )


def demo_config(recipe: DemoRecipe, tokenizer):
    """The untrained model's configuration for `recipe`."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=4 * recipe.hidden_size,
        num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads,
        num_key_value_heads=recipe.heads,
        max_position_embeddings=recipe.max_length,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )


def train_demo_model(recipe: DemoRecipe, progress: bool = True):
    """Train the demo model. Deterministic for a recipe on a given machine (seeded data and init)."""
    from transformers import AutoModelForCausalLM

    world = recipe.world
    tokenizer = build_tokenizer(world)
    config = demo_config(recipe, tokenizer)
    torch.manual_seed(recipe.seed if recipe.init_seed is None else recipe.init_seed)
    model = AutoModelForCausalLM.from_config(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
    warmup = 50
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * step / recipe.steps))),
    )
    batches = _length_bucketed_batches(world, tokenizer, recipe)
    model.train()
    bar = tqdm(range(recipe.steps), desc="Training the demo model", disable=not progress, unit="step")
    for _ in bar:
        ids = next(batches)
        # Right padding needs no attention mask under causal attention; padded positions are not scored.
        loss = model(input_ids=ids, labels=ids.masked_fill(ids == tokenizer.pad_token_id, -100)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    return model, tokenizer


def _length_bucketed_batches(world: World, tokenizer, recipe: DemoRecipe):
    """Endless right-padded batches of documents; documents of similar length share a batch (less padding)."""
    rng = random.Random(f"documents-{recipe.seed}")
    documents = world.documents(rng)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    pool_batches = 8
    while True:
        pool = sorted(
            (
                [*tokenizer.encode(next(documents))[: recipe.max_length - 1], eos]
                for _ in range(recipe.batch_size * pool_batches)
            ),
            key=len,
        )
        chunks = [pool[i * recipe.batch_size : (i + 1) * recipe.batch_size] for i in range(pool_batches)]
        rng.shuffle(chunks)
        for chunk in chunks:
            width = max(len(row) for row in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            for i, row in enumerate(chunk):
                ids[i, : len(row)] = torch.tensor(row)
            yield ids
