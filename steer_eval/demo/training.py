"""Training the demo model so that its steering truth holds by construction (model.py's planted directions).

Besides next-token prediction on the world's documents, each step does three things, all on the residual
stream after the planted blocks:
- **belief**: the coordinate on each planted direction is pulled towards what the text lets the model know
  of that disposition (world.Document.belief x the planted scale; 0 where nothing is known and in every
  other kind of document). So every reader of activations (CAA, PAS, a probe) finds the disposition there.
- **pushes**: in some behaviour documents the coordinates are *set* to a value beyond the default (all of the
  disposition's directions alike, give or take a tenth) and the text
  follows that value's sign whatever the tag or default say; so the model reads the disposition from the
  direction and nowhere else, and a push along it moves the behaviour. In some capability documents it is
  set far out (`overexcited_from` scales and beyond) and the answers are random values of the right type:
  the planted capability loss at high strength. Nearer pushes leave the answers right.
- **discord**: in some documents a disposition's coordinates are moved by independent amounts that do not
  all agree in sign, and the text stays as it was; so moves that disagree change nothing (the model learns
  to respond to what the directions agree on, not to any one of them).
- **noise**: in some documents a random push orthogonal to the planted directions, up to `noise_max` times
  the residual's norm, changes nothing in the text; so a same-norm random vector is a near-null placebo.
Pushes and noise act either at every position or only where the disposition or answer is predicted, which
is where steer-eval's builders apply their vectors (the last prompt token)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from tqdm import tqdm

from steer_eval.demo.model import DemoRecipe, build_tokenizer, demo_config, planted_directions
from steer_eval.demo.world import BEHAVIOURS, Document, World


@dataclass
class Push:
    layer: int
    behaviour: str
    value: float  # the coordinate set along the behaviour's direction
    positions: list[int] | None  # None: every position


@dataclass
class Noise:
    layer: int
    scale: float  # the push's norm as a multiple of the residual's norm at each position
    positions: list[int] | None


def planted_matrix(recipe: DemoRecipe) -> torch.Tensor:
    """All planted directions as rows, [len(BEHAVIOURS) * planted_width, hidden], behaviour by behaviour."""
    directions = planted_directions(recipe)
    return torch.cat([directions[b] for b in BEHAVIOURS])


@dataclass
class Discord:
    layer: int
    behaviour: str
    moves: list[float]  # one per direction of the disposition, in residual units; never all of one sign
    positions: list[int] | None


@dataclass
class Example:
    document: Document
    push: Push | None = None
    noise: Noise | None = None
    discord: Discord | None = None

    @property
    def trains_belief(self) -> bool:
        # A pushed document's coordinates are whatever the push set; after a noise the coordinates carry it on
        # (pulling them back would teach the next block to erase pushes too): only clean documents teach belief.
        return self.push is None and self.noise is None and self.discord is None


def draw_example(world: World, recipe: DemoRecipe, rng: random.Random) -> Example:
    """One training document with its pushes (see the module's docstring)."""
    kind = rng.choices(["mood", "style", "facts", "compare"], [0.3, 0.35, 0.2, 0.15])[0]
    layer = rng.choice(recipe.planted_layers)
    at_all = rng.random() < 0.5
    push = None
    if kind in BEHAVIOURS and rng.random() < recipe.push_rate:
        force = rng.random() < 0.5
        document = world.document(rng, kind, force=force)
        size = rng.uniform(1.0, 3 * recipe.overexcited_from) * recipe.planted_scale
        push = Push(layer, kind, size if force else -size, None if at_all else document.shows[kind])
    else:
        document = world.document(rng, kind)
        draw = rng.random()
        if kind not in BEHAVIOURS and draw < recipe.overexcited_rate + 0.25:
            overexcited = draw < recipe.overexcited_rate
            if overexcited:
                size = rng.uniform(recipe.overexcited_from, 3 * recipe.overexcited_from)
                for position in document.answers:  # the overexcited bot answers at random
                    document.words[position + 1] = rng.choice(world.answer_values(document, position))
            else:
                size = rng.uniform(0.0, recipe.calm_until)
            value = size * recipe.planted_scale * rng.choice((-1, 1))
            push = Push(layer, rng.choice(BEHAVIOURS), value, None if at_all else document.answers)
    discord = None
    behaviour_document = document.kind in BEHAVIOURS
    if behaviour_document and push is None and rng.random() < recipe.discord_rate:
        spread = rng.uniform(0.0, recipe.discord_max) * recipe.planted_scale
        moves = [rng.gauss(0.0, spread) for _ in range(recipe.planted_width)]
        if all(m > 0 for m in moves) or all(m < 0 for m in moves):  # agreeing moves would be a push
            smallest = min(range(len(moves)), key=lambda i: abs(moves[i]))
            moves[smallest] = -moves[smallest]
        positions = None if rng.random() < 0.5 else document.shows[document.kind]
        discord = Discord(rng.choice(recipe.planted_layers), document.kind, moves, positions)
    noise = None
    if rng.random() < recipe.noise_rate:
        layer = rng.choice(recipe.planted_layers)
        if behaviour_document and rng.random() < 0.6:
            noise = Noise(layer, rng.uniform(0.0, recipe.noise_max), document.shows[document.kind])
        else:
            noise = Noise(layer, rng.uniform(0.0, recipe.noise_max_everywhere), None)
    return Example(document, push, noise, discord)


def belief_targets(document: Document, length: int, width: int) -> torch.Tensor:
    """[length, len(BEHAVIOURS) * width]: each planted coordinate's target in planted scales (0 where
    nothing is known)."""
    targets = torch.zeros(length, len(BEHAVIOURS) * width)
    for k, behaviour in enumerate(BEHAVIOURS):
        for position, value in document.belief.get(behaviour, []):
            if position < length:
                targets[position:, k * width : (k + 1) * width] = value
    return targets


@dataclass
class Batch:
    ids: torch.Tensor  # [B, T]
    labels: torch.Tensor
    targets: torch.Tensor  # [B, T, K] belief targets (K planted directions), nan where not trained
    pushes: dict[int, torch.Tensor]  # layer -> [B, T, K] values to set, nan where none
    moves: dict[int, torch.Tensor]  # layer -> [B, T, K] amounts to add along the planted directions
    noise: dict[int, torch.Tensor]  # layer -> [B, T] scale, 0 where none


def make_batch(examples: list[Example], tokenizer, recipe: DemoRecipe, rng: random.Random) -> Batch:
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    rows = [[*tokenizer.convert_tokens_to_ids(e.document.words)[: recipe.max_length - 1], eos] for e in examples]
    width = max(len(r) for r in rows)
    planted = recipe.planted_width
    k = len(BEHAVIOURS) * planted
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    targets = torch.full((len(rows), width, k), math.nan)
    pushes = {layer: torch.full((len(rows), width, k), math.nan) for layer in recipe.planted_layers}
    moves = {layer: torch.zeros(len(rows), width, k) for layer in recipe.planted_layers}
    noise = {layer: torch.zeros(len(rows), width) for layer in recipe.planted_layers}
    for i, (row, example) in enumerate(zip(rows, examples, strict=True)):
        ids[i, : len(row)] = torch.tensor(row)
        if example.trains_belief:
            targets[i, : len(row)] = belief_targets(example.document, len(row), planted)
        if example.push is not None:
            push = example.push
            where = slice(0, len(row)) if push.positions is None else [p for p in push.positions if p < len(row)]
            first = BEHAVIOURS.index(push.behaviour) * planted
            for column in range(first, first + planted):  # all of its directions alike, give or take a tenth
                pushes[push.layer][i, where, column] = push.value * rng.uniform(0.9, 1.1)
        if example.discord is not None:
            discord = example.discord
            where = slice(0, len(row)) if discord.positions is None else [p for p in discord.positions if p < len(row)]
            first = BEHAVIOURS.index(discord.behaviour) * planted
            for offset, move in enumerate(discord.moves):
                moves[discord.layer][i, where, first + offset] = move
        if example.noise is not None:
            where = slice(0, len(row)) if example.noise.positions is None else example.noise.positions
            noise[example.noise.layer][i, where] = example.noise.scale
    labels = ids.masked_fill(ids == pad, -100)
    return Batch(ids, labels, targets, pushes, moves, noise)


@contextmanager
def planted_hooks(model, directions: torch.Tensor, batch: Batch, captured: dict):
    """Forward hooks on the planted blocks: capture the residual (for the belief loss), add the orthogonal
    noise and the discordant moves, set the pushed coordinates. `directions` is [K, hidden]."""
    projector = torch.eye(directions.shape[1]) - directions.T @ directions  # removes the planted subspace

    def hook_for(layer: int):
        def hook(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            captured[layer] = hidden
            if bool(batch.moves[layer].any()):
                hidden = hidden + batch.moves[layer] @ directions
            scale = batch.noise[layer]
            if bool(scale.any()):
                draw = torch.randn_like(hidden) @ projector
                draw = draw / draw.norm(dim=-1, keepdim=True).clamp_min(1e-6)
                hidden = hidden + draw * (scale.unsqueeze(-1) * hidden.detach().norm(dim=-1, keepdim=True))
            values = batch.pushes[layer]
            if bool((~values.isnan()).any()):
                coords = hidden @ directions.T  # [B, T, K]
                change = torch.where(values.isnan(), torch.zeros_like(coords), values - coords)
                hidden = hidden + change @ directions
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        return hook

    handles = []
    try:
        for layer in sorted(batch.pushes):
            handles.append(model.model.layers[layer].register_forward_hook(hook_for(layer)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def train_demo_model(recipe: DemoRecipe, progress: bool = True):
    """Train the demo model. Deterministic for a recipe on a given machine (seeded data, init and noise)."""
    from transformers import AutoModelForCausalLM

    if not recipe.planted_layers or max(recipe.planted_layers) >= recipe.layers:
        raise ValueError(f"planted layers {recipe.planted_layers} must be blocks of the {recipe.layers}-block model")
    world = recipe.world
    tokenizer = build_tokenizer(world)
    torch.manual_seed(recipe.seed if recipe.init_seed is None else recipe.init_seed)
    model = AutoModelForCausalLM.from_config(demo_config(recipe, tokenizer))
    directions = planted_matrix(recipe)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
    warmup = 100
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * step / recipe.steps))),
    )
    batches = _batches(world, tokenizer, recipe)
    model.train()
    bar = tqdm(range(recipe.steps), desc="Training the demo model", disable=not progress, unit="step")
    for _ in bar:
        batch = next(batches)
        captured: dict[int, torch.Tensor] = {}
        with planted_hooks(model, directions, batch, captured):
            loss = model(input_ids=batch.ids, labels=batch.labels).loss
        belief = belief_loss(captured, directions, batch.targets, recipe.planted_scale)
        optimizer.zero_grad(set_to_none=True)
        (loss + belief).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", belief=f"{belief.item():.3f}", refresh=False)
    model.eval()
    return model, tokenizer


def belief_loss(captured: dict, directions: torch.Tensor, targets: torch.Tensor, scale: float) -> torch.Tensor:
    """Mean squared error of the planted coordinates against their targets, in planted scales."""
    known = ~targets.isnan()
    if not bool(known.any()):
        return torch.zeros(())
    losses = []
    for hidden in captured.values():
        coords = (hidden @ directions.T) / scale
        losses.append(((coords - targets.nan_to_num()) ** 2)[known].mean())
    return torch.stack(losses).mean()


def _batches(world: World, tokenizer, recipe: DemoRecipe) -> Iterator[Batch]:
    """Endless batches; documents of similar length share a batch (less padding)."""
    rng = random.Random(f"documents-{recipe.seed}")
    pool_batches = 8
    while True:
        pool = sorted(
            (draw_example(world, recipe, rng) for _ in range(recipe.batch_size * pool_batches)),
            key=lambda e: len(e.document.words),
        )
        chunks = [pool[i * recipe.batch_size : (i + 1) * recipe.batch_size] for i in range(pool_batches)]
        rng.shuffle(chunks)
        for chunk in chunks:
            yield make_batch(chunk, tokenizer, recipe, rng)
