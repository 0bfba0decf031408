"""Prefix reuse for sweeps: the unsteered computation below the first steered block is done once per
batch and replayed for every strength, vector and layer of the sweep.

An intervention at block L (its output, MLP, attention or a head inside it) cannot change anything that
blocks 0..L-1 compute. `PrefixReplay.capture` runs one unsteered forward pass and records, for every
block, the arguments it was called with (attention mask, rotary embeddings, ...) and, for the blocks a
sweep starts at, its input hidden state. `replay(start)` then runs only blocks start..N-1, the final
norm and the unembedding, with whatever steering hooks are attached, so a further setting costs about
(N - start) / N of a full pass.

The tail after the last block (final norm, unembedding, Gemma-2's logit soft-capping) is found by
structure. Because an architecture could do something between the blocks and the logits that we do not
know of, `matches_full_pass` checks replay against the model's own forward pass on real inputs before a
sweep relies on it; the caller falls back to plain forward passes when it does not match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from steer_eval.steering.model_map import ModelMap

FINAL_NORM_NAMES = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "norm_f", "final_norm")


@dataclass
class Captured:
    """One unsteered forward pass: its logits, each block's call arguments (hidden state left out) and
    the input hidden state of the blocks a replay may start at."""

    logits: torch.Tensor
    calls: dict[int, tuple[tuple, dict]] = field(default_factory=dict)
    inputs: dict[int, torch.Tensor] = field(default_factory=dict)


class PrefixReplay:
    """Capture once, replay from block `start` many times. `supported` is False (with `reason`) when the
    model's tail could not be found; callers then use plain forward passes."""

    def __init__(self, model: nn.Module, model_map: ModelMap) -> None:
        self.model = model
        self.blocks = model_map.blocks
        self.n_layers = model_map.n_layers
        backbone_name = model_map.blocks_name.rpartition(".")[0]
        backbone = model.get_submodule(backbone_name) if backbone_name else model
        children = dict(backbone.named_children())
        self.final_norm = next((children[n] for n in FINAL_NORM_NAMES if n in children), None)
        self.unembed = model.get_output_embeddings()
        config = getattr(model, "config", None)
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.softcap = getattr(text_config, "final_logit_softcapping", None)
        self.reason = ""
        if self.final_norm is None:
            self.reason = f"no final norm ({'/'.join(FINAL_NORM_NAMES)}) next to the decoder blocks"
        elif self.unembed is None:
            self.reason = "the model has no output embedding (lm_head)"

    @property
    def supported(self) -> bool:
        return not self.reason

    def capture(self, inputs: dict[str, torch.Tensor], starts: Iterable[int]) -> Captured:
        """Run the model unsteered on `inputs`, keeping what replays from each block in `starts` need."""
        starts = sorted(set(starts))
        first = starts[0] if starts else self.n_layers
        record = Captured(logits=torch.empty(0))
        handles = []

        def keep(index: int):
            def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
                record.calls[index] = (args[1:], dict(kwargs))
                if index in starts:
                    record.inputs[index] = args[0]

            return hook

        try:
            for index in range(first, self.n_layers):
                handles.append(self.blocks[index].register_forward_pre_hook(keep(index), with_kwargs=True))
            # No KV cache: each replay must see only its own keys and values, never those of another pass.
            record.logits = self.model(**inputs, use_cache=False).logits
        finally:
            for handle in handles:
                handle.remove()
        return record

    def replay(self, captured: Captured, start: int) -> torch.Tensor:
        """Logits of blocks start..N-1 and the tail, from the captured input of block `start`; steering
        hooks attached to those blocks act as in a full pass."""
        hidden = captured.inputs[start]
        for index in range(start, self.n_layers):
            args, kwargs = captured.calls[index]
            output = self.blocks[index](hidden, *args, **kwargs)
            hidden = output[0] if isinstance(output, tuple) else output
        logits = self.unembed(self.final_norm(hidden))
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def matches_full_pass(self, captured: Captured, start: int) -> bool:
        """Does an unsteered replay from `start` give the model's own logits? (Checked once per sweep.)"""
        return agrees(self.replay(captured, start), captured.logits)


def agrees(replayed: torch.Tensor, reference: torch.Tensor, tolerance: float = 1e-3) -> bool:
    """Whether a replayed computation gave the reference's numbers, up to `tolerance` of the reference's
    largest value (the noise of computing them in another batch shape)."""
    if replayed.shape != reference.shape:
        return False
    if not reference.numel():
        return True
    scale = 1.0 + float(reference.abs().max())
    return float((replayed.float() - reference.float()).abs().max()) <= tolerance * scale
