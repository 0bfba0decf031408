"""The KV cache of a generation sweep's prompts, computed once per prompt as far down the model as the sweep's
settings agree, then repeated for every setting's rows (steering/generation.py lays prompt i under setting s
on row i * copies + s).

A setting steering at block L cannot change what blocks 0..L-1 compute, so below the lowest steered block
every setting's prompt cache is the same:

- when no setting steers the prompt before its last token (`generated`, `last_prompt`, the baseline), the
  whole prompt but its last token is encoded once per prompt (`shared_blocks` = the model's depth);
- otherwise the prompt goes once through blocks 0..L-1 unsteered, and blocks L..N-1 run on the repeated
  hidden state with each row's steering (a replay with the arguments the model gave those blocks).

Either way `generate` then computes the last prompt token and the decode steps per row. The replay calls
blocks outside the model's own forward, so the first replay of a model is checked against the model's own
steered pass (every layer's keys and values); a model where they differ falls back to that plain pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import torch
from torch import nn

from steer_eval.steering.hooks import Steerer
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.positions import SequenceLayout
from steer_eval.steering.prefix import agrees
from steer_eval.vocab import PositionMode

# positions that leave every prompt token but the last unsteered: the prompt's cache is the same in all settings
PROMPT_UNTOUCHED = frozenset({PositionMode.GENERATED, PositionMode.LAST_PROMPT})


def shared_blocks(settings: Sequence[Sequence[Intervention]], n_layers: int) -> int:
    """How many blocks, from the bottom, compute the same prompt cache under every setting."""
    interventions = [i for setting in settings for i in setting]
    if all(i.positions in PROMPT_UNTOUCHED for i in interventions):
        return n_layers
    return min(i.key.layer for i in interventions)


class _StopCapture(Exception):
    """Raised by the last recorder: nothing after the blocks is needed."""


class _Recorder(nn.Module):
    """Stands in for a block during the capture pass: keeps the arguments the model called it with."""

    def __init__(self, index: int, calls: dict[int, tuple[tuple, dict]], inputs: dict[int, torch.Tensor], last: bool):
        super().__init__()
        self.index, self.calls, self.inputs, self.last = index, calls, inputs, last

    def forward(self, hidden: torch.Tensor, *args, **kwargs):
        self.calls[self.index] = (args, kwargs)
        self.inputs.setdefault(self.index, hidden)
        if self.last:
            raise _StopCapture
        return hidden


def _batched(value, n: int, copies: int, cache, done: dict[int, torch.Tensor]):
    """A block argument for n * copies rows: per-row tensors repeated (once per replay: every block gets the
    same mask and rotary tables, and a long prompt's mask is large), the KV cache the shared one."""
    if isinstance(value, torch.Tensor) and value.ndim >= 2 and value.shape[0] == n:
        if id(value) not in done:
            done[id(value)] = value.repeat_interleave(copies, dim=0)
        return done[id(value)]
    if hasattr(value, "get_seq_length"):
        return cache
    if isinstance(value, tuple):
        return tuple(_batched(v, n, copies, cache, done) for v in value)
    return value


class PromptCache:
    """Builds the repeated prompt cache for one model (`model`, its `steerer`, the forward's `autocast`)."""

    def __init__(self, model: nn.Module, steerer: Steerer, autocast: Callable[[], AbstractContextManager]) -> None:
        self.model, self.steerer, self.autocast = model, steerer, autocast
        self.blocks = steerer.model_map.blocks
        self.n_layers = steerer.model_map.n_layers
        self.replay_checked = False
        self.replay_works = True
        # only the last position's logits where the model allows (the passes here throw them away)
        keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.logits_kwargs: dict = {"logits_to_keep": 1} if keep else {}

    def build(self, encoded: torch.Tensor, mask: torch.Tensor, copies: int, start: int, interventions: list):
        """The cache of every prompt but its last token, each prompt's repeated `copies` times; blocks
        `start`.. computed per row under `interventions` (per-row, as generation.py lays them out).
        None when the model's cache cannot be repeated (a legacy tuple cache)."""
        prefix, prefix_mask = encoded[:, :-1], mask[:, :-1]
        positions = (prefix_mask.long().cumsum(-1) - 1).masked_fill(prefix_mask == 0, 0)
        inputs = dict(input_ids=prefix, attention_mask=prefix_mask, position_ids=positions, use_cache=True)
        saved = self.steerer.interventions
        try:
            self.steerer.set_interventions([])
            with torch.no_grad(), self.autocast():
                if start >= self.n_layers:
                    cache = self._cache(self.model(**inputs, **self.logits_kwargs))
                    if cache is not None:
                        cache.batch_repeat_interleave(copies)
                    return cache
                if not self.replay_works:
                    return self._steered_pass(inputs, mask, copies, interventions)
                try:
                    cache = self._replayed(inputs, mask, copies, start, interventions)
                except Exception:  # a block that cannot be called outside the model's forward: use the forward
                    self.replay_works = False
                    return self._steered_pass(inputs, mask, copies, interventions)
                if cache is None or self.replay_checked:
                    return cache
                self.replay_checked = True
                reference = self._steered_pass(inputs, mask, copies, interventions)
                self.replay_works = _same_cache(cache, reference)
                return reference
        finally:
            self.steerer.set_interventions(saved)

    def _replayed(self, inputs: dict, mask: torch.Tensor, copies: int, start: int, interventions: list):
        n = inputs["input_ids"].shape[0]
        calls: dict[int, tuple[tuple, dict]] = {}
        hidden: dict[int, torch.Tensor] = {}
        originals = [self.blocks[j] for j in range(start, self.n_layers)]
        for j in range(start, self.n_layers):
            self.blocks[j] = _Recorder(j, calls, hidden, last=j == self.n_layers - 1)
        try:
            self.model(**inputs)
        except _StopCapture:
            pass
        finally:
            for j, block in zip(range(start, self.n_layers), originals, strict=True):
                self.blocks[j] = block
        args, kwargs = calls[start]
        cache = next((v for v in (*args, *kwargs.values()) if hasattr(v, "get_seq_length")), None)
        if cache is None or not hasattr(cache, "batch_repeat_interleave"):
            return None
        cache.batch_repeat_interleave(copies)  # blocks below `start`; the blocks above have written nothing yet
        state = hidden[start].repeat_interleave(copies, dim=0)
        self.steerer.set_interventions(interventions)
        with self.steerer.active(SequenceLayout.for_generation(mask.repeat_interleave(copies, dim=0))):
            self.steerer.start_pass(0)
            done: dict[int, torch.Tensor] = {}  # keyed by id: `calls` keeps every original alive meanwhile
            for j in range(start, self.n_layers):
                args, kwargs = calls[j]
                args = tuple(_batched(a, n, copies, cache, done) for a in args)
                kwargs = {k: _batched(v, n, copies, cache, done) for k, v in kwargs.items()}
                out = self.blocks[j](state, *args, **kwargs)
                state = out[0] if isinstance(out, tuple) else out
        return cache

    def _steered_pass(self, inputs: dict, mask: torch.Tensor, copies: int, interventions: list):
        """The model's own pass over every row: what the replay must equal, and the fallback."""
        rows = {k: v.repeat_interleave(copies, dim=0) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        self.steerer.set_interventions(interventions)
        with self.steerer.active(SequenceLayout.for_generation(mask.repeat_interleave(copies, dim=0))):
            return self._cache(self.model(**rows, **self.logits_kwargs))

    @staticmethod
    def _cache(out):
        cache = out.get("cache")  # transformers 5; asking for `past_key_values` there logs a deprecation
        if cache is None:
            cache = out.get("past_key_values")  # transformers 4.x
        return cache if hasattr(cache, "batch_repeat_interleave") else None


def _same_cache(replayed, reference) -> bool:
    """Whether two caches hold the same keys and values in every layer (`agrees`; a cache whose layers cannot
    be read counts as different)."""
    ours_layers, their_layers = getattr(replayed, "layers", None), getattr(reference, "layers", None)
    if ours_layers is None or their_layers is None or len(ours_layers) != len(their_layers):
        return False
    for ours, theirs in zip(ours_layers, their_layers, strict=True):
        for name in ("keys", "values"):
            a, b = getattr(ours, name, None), getattr(theirs, name, None)
            if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
                return False
            if not agrees(a, b, 1e-3 if b.dtype == torch.float32 else 5e-2):  # half precision rounds coarsely
                return False
    return True
