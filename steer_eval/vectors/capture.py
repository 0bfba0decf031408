"""Reading activations: one forward pass per batch records every requested site key at one token of each
sequence (by default its last real token), and optionally the log-probabilities of given next tokens at the
last token (a model's answer to a multiple-choice prompt). Hooks keep only the [batch, width] rows that are
read, never whole sequences, and the unembedding runs only at the last position, so memory stays bounded
by the batch.

Sequences are token ids, right-padded (each row's real tokens start at position 0, so positions and
results match unpadded runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from steer_eval.models import input_device
from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Site


@dataclass(frozen=True)
class Reading:
    """What to read: site keys; `block_input` reads the residual stream entering block L (HF
    `hidden_states[L]`, PAS's convention) instead of block L's output for `resid` keys."""

    keys: tuple[SiteKey, ...]
    block_input: bool = False


@dataclass
class ReadBatch:
    activations: dict[SiteKey, torch.Tensor]  # [batch, width], float32, CPU
    option_logprobs: torch.Tensor | None  # [batch, max options], -inf where a row has fewer options
    last: torch.Tensor  # [batch] index of each row's last real token (where log-probs are read)
    lengths: list[int]


def pad_right(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    last = torch.tensor([len(s) - 1 for s in sequences], dtype=torch.long)
    return input_ids, attention_mask, last


@contextmanager
def _read_hooks(
    model: nn.Module, model_map: ModelMap, reading: Reading, read_at: torch.Tensor, last: torch.Tensor, store: dict
) -> Iterator[None]:
    rows = torch.arange(last.numel())
    picked: dict[tuple[str, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def gather(hidden: torch.Tensor, columns: torch.Tensor, name: str) -> torch.Tensor:
        slot = (name, hidden.device)
        if slot not in picked:
            picked[slot] = (rows.to(hidden.device), columns.to(hidden.device))
        r, c = picked[slot]
        return hidden[r, c]

    def at_read(hidden: torch.Tensor) -> torch.Tensor:
        return gather(hidden, read_at, "read")

    def at_last(hidden: torch.Tensor) -> torch.Tensor:
        return gather(hidden, last, "last")

    def output_reader(key: SiteKey):
        def hook(module, args, output):
            store[key] = at_read(output[0] if isinstance(output, tuple) else output).detach()

        return hook

    def input_reader(key: SiteKey):
        def hook(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            store[key] = at_read(hidden).detach()

        return hook

    def unembed_at_last(module, args):
        return (at_last(args[0]).unsqueeze(1), *args[1:])

    handles = []
    try:
        for key in reading.keys:
            module = model_map.module(key)
            if key.site is Site.HEAD or (key.site is Site.RESID and reading.block_input):
                handles.append(module.register_forward_pre_hook(input_reader(key), with_kwargs=True))
            else:
                handles.append(module.register_forward_hook(output_reader(key)))
        head = model.get_output_embeddings()
        if head is not None:
            handles.append(head.register_forward_pre_hook(unembed_at_last))
        yield
    finally:
        for handle in handles:
            handle.remove()


def read_last_token(
    model: nn.Module,
    sequences: Sequence[Sequence[int]],
    reading: Reading,
    option_ids: Sequence[Sequence[int]] | None = None,
    batch_size: int = 16,
    pad_id: int = 0,
    progress: bool = False,
    desc: str = "Reading activations",
    model_map: ModelMap | None = None,
    around_batch: Callable[[int, list[int], int], AbstractContextManager] | None = None,
    read_index: Sequence[int] | None = None,
) -> Iterator[ReadBatch]:
    """Yield one `ReadBatch` per batch of `sequences`, in order. Activations are read at `read_index[i]`
    (default: the last token); `option_ids[i]` are the token ids whose next-token log-probabilities at the
    LAST position of sequence i are returned. `around_batch(start, lengths, width)`, if given, is entered
    around each forward pass (steering while scoring; `start` is the batch's first sequence)."""
    model_map = model_map or ModelMap.of(model)
    for key in reading.keys:
        model_map.module(key)  # fail early on a bad layer or site
    device = input_device(model)
    batches = range(0, len(sequences), batch_size)
    for start in tqdm(batches, desc=desc, disable=not progress, unit="batch", leave=False):
        chunk = sequences[start : start + batch_size]
        input_ids, attention_mask, last = pad_right(chunk, pad_id)
        read_at = last if read_index is None else torch.tensor(read_index[start : start + batch_size])
        if bool((read_at > last).any()) or bool((read_at < 0).any()):
            raise ValueError("read_index outside its sequence")
        store: dict[SiteKey, torch.Tensor] = {}
        lengths = [len(s) for s in chunk]
        context = around_batch(start, lengths, input_ids.shape[1]) if around_batch else nullcontext()
        with torch.no_grad(), context, _read_hooks(model, model_map, reading, read_at, last, store):
            logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        logprobs = None
        if option_ids is not None:
            logprobs = _gather(
                torch.log_softmax(logits[:, -1].float(), dim=-1).cpu(), option_ids[start : start + batch_size]
            )
        yield ReadBatch(
            activations={key: store[key].float().cpu() for key in reading.keys},
            option_logprobs=logprobs,
            last=last,
            lengths=[len(s) for s in chunk],
        )


def _gather(logprobs: torch.Tensor, ids: Sequence[Sequence[int]]) -> torch.Tensor:
    out = torch.full((len(ids), max(len(i) for i in ids)), float("-inf"))
    for row, row_ids in enumerate(ids):
        out[row, : len(row_ids)] = logprobs[row, list(row_ids)]
    return out


def encode(tokenizer, text: str, add_special_tokens: bool = False) -> list[int]:
    return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])


def mean_difference(
    model: nn.Module,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    layers: Sequence[int],
    site: Site = Site.RESID,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[int, torch.Tensor]:
    """Mean over pairs of activation(positive text) - activation(negative text) at the last token, per layer."""
    if not pairs:
        raise ValueError("mean_difference needs at least one pair")
    reading = Reading(tuple(SiteKey(site, layer) for layer in layers))
    totals: dict[int, torch.Tensor] = {}
    for sign, texts in ((1.0, [p for p, _ in pairs]), (-1.0, [n for _, n in pairs])):
        sequences = [encode(tokenizer, text) for text in texts]
        for batch in read_last_token(model, sequences, reading, batch_size=batch_size, progress=progress):
            for key, activations in batch.activations.items():
                totals[key.layer] = totals.get(key.layer, 0) + sign * activations.double().sum(dim=0)
    return {layer: (total / len(pairs)).float() for layer, total in totals.items()}
