"""Reading activations: one forward pass per batch records the requested site at every requested layer,
at the last real token of each prompt (right padding, so the index is each row's length - 1).
Statistics are accumulated on the fly (sums, not stored activations), so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from tqdm import tqdm

from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.format import SiteKey
from steer_eval.vocab import Site


@contextmanager
def _recording(model_map: ModelMap, keys: Sequence[SiteKey], store: dict[SiteKey, torch.Tensor]) -> Iterator[None]:
    handles = []

    def recorder(key: SiteKey):
        def hook(module, args, output):
            store[key] = (output[0] if isinstance(output, tuple) else output).detach()

        return hook

    try:
        for key in keys:
            handles.append(model_map.module(key).register_forward_hook(recorder(key)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def last_token_activations(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[str],
    layers: Sequence[int],
    site: Site = Site.RESID,
    batch_size: int = 32,
    progress: bool = False,
) -> Iterator[dict[int, torch.Tensor]]:
    """Yield, per batch, {layer: activations [batch, hidden] (float32, CPU)} at each prompt's last token."""
    model_map = ModelMap.of(model)
    keys = [SiteKey(site, layer) for layer in layers]
    for key in keys:
        model_map.module(key)  # fail early on a bad layer or site
    device = next(model.parameters()).device
    store: dict[SiteKey, torch.Tensor] = {}
    for start in tqdm(range(0, len(prompts), batch_size), desc="Reading activations", disable=not progress):
        batch = [tokenizer.encode(p, add_special_tokens=False) for p in prompts[start : start + batch_size]]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id or 0, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for i, ids in enumerate(batch):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention_mask[i, : len(ids)] = 1
        last = torch.tensor([len(ids) - 1 for ids in batch])
        with torch.no_grad(), _recording(model_map, keys, store):
            model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device))
        rows = torch.arange(len(batch))
        yield {key.layer: store[key][rows, last.to(store[key].device)].float().cpu() for key in keys}


def mean_difference(
    model: torch.nn.Module,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    layers: Sequence[int],
    site: Site = Site.RESID,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[int, torch.Tensor]:
    """Mean over pairs of activation(positive prompt) - activation(negative prompt), per layer."""
    if not pairs:
        raise ValueError("mean_difference needs at least one pair")
    totals: dict[int, torch.Tensor] = {}
    for sign, prompts in ((1.0, [p for p, _ in pairs]), (-1.0, [n for _, n in pairs])):
        for batch in last_token_activations(model, tokenizer, prompts, layers, site, batch_size, progress):
            for layer, activations in batch.items():
                totals[layer] = totals.get(layer, 0) + sign * activations.sum(dim=0)
    return {layer: total / len(pairs) for layer, total in totals.items()}
