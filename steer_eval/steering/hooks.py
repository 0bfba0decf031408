"""The `Steerer`: attaches a list of interventions to a model with forward hooks, only inside
`active()`, and always removes them again (even when registration or the forward pass fails).

Composition order: interventions act in the order they were given. Interventions on the same module
run one after another in that order inside a single hook; interventions on different modules run in the
model's forward order (layer by layer; within a block the attention, then the MLP, then the block output).

Positions: a pre-hook on the top-level model records, for each forward pass, which window of the padded
sequence it covers (the KV-cache offset during generation), so each site hook can build the mask of the
positions its mode steers (see positions.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from steer_eval.errors import SteerEvalError
from steer_eval.steering.interventions import Intervention
from steer_eval.steering.model_map import ModelMap
from steer_eval.steering.positions import SequenceLayout
from steer_eval.vocab import PositionMode, Site


@dataclass(frozen=True)
class EditRecord:
    """One hook firing, for tracing: which intervention, which window, how many positions it edited."""

    intervention: str
    offset: int
    width: int
    positions_edited: int


class Steerer:
    """Applies interventions to one model; cheap to re-point (`set_interventions`, `set_alpha`)."""

    def __init__(self, model: nn.Module, model_map: ModelMap | None = None) -> None:
        self.model = model
        self.model_map = model_map or ModelMap.of(model)
        self._interventions: list[Intervention] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._layout: SequenceLayout | None = None
        self._offset = 0
        self._masks: dict[tuple, torch.Tensor | None] = {}
        self._trace: list[EditRecord] | None = None

    # ---- what to apply ---------------------------------------------------------------------------

    @property
    def interventions(self) -> list[Intervention]:
        return list(self._interventions)

    def set_interventions(self, interventions: Sequence[Intervention]) -> None:
        for intervention in interventions:
            self._check(intervention)
        self._interventions = list(interventions)

    def set_alpha(self, alpha: float) -> None:
        for intervention in self._interventions:
            intervention.alpha = float(alpha)

    @property
    def needs_layout(self) -> bool:
        return any(i.positions is not PositionMode.ALL for i in self._interventions)

    def attached(self) -> list[str]:
        """Descriptions of the interventions whose hooks are attached right now (empty when inactive)."""
        return [i.describe() for i in self._interventions] if self._handles else []

    def _check(self, intervention: Intervention) -> None:
        label = intervention.label or "intervention"
        self.model_map.check_key(intervention.key, intervention.direction.numel(), label)

    # ---- hooks -------------------------------------------------------------------------------------

    @contextmanager
    def active(self, layout: SequenceLayout | None = None, trace: list[EditRecord] | None = None) -> Iterator[None]:
        """Attach the hooks for the duration of the block. `layout` is required unless every
        intervention steers all positions; `trace`, if given, receives one EditRecord per hook firing."""
        if self._handles:
            raise RuntimeError("this Steerer is already active; nested activation is not supported")
        if not self._interventions:
            yield
            return
        if layout is None and self.needs_layout:
            modes = sorted({i.positions.value for i in self._interventions} - {PositionMode.ALL.value})
            raise SteerEvalError(
                f"position mode(s) {', '.join(modes)} need to know where each prompt ends; run through "
                "SteerEvalLM (which passes a SequenceLayout) or use positions=all"
            )
        self._layout, self._trace = layout, trace
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._on_model_call, with_kwargs=True))
            for module, group in self._by_module():
                if group[0].key.site is Site.HEAD:
                    self._handles.append(module.register_forward_pre_hook(self._input_hook(group)))
                else:
                    self._handles.append(module.register_forward_hook(self._output_hook(group)))
            yield
        finally:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()
            self._layout, self._trace, self._masks = None, None, {}

    def _by_module(self) -> list[tuple[nn.Module, list[Intervention]]]:
        groups: dict[int, tuple[nn.Module, list[Intervention]]] = {}
        for intervention in self._interventions:
            module = self.model_map.module(intervention.key)
            groups.setdefault(id(module), (module, []))[1].append(intervention)
        return list(groups.values())

    def _on_model_call(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """Record the window of absolute positions this forward pass covers."""
        self._masks = {}
        cache_position = kwargs.get("cache_position")
        mask = kwargs.get("attention_mask")
        inputs = kwargs.get("input_ids", args[0] if args else None)
        if inputs is None:
            inputs = kwargs.get("inputs_embeds")
        width = inputs.shape[1] if isinstance(inputs, torch.Tensor) else None
        # transformers 5 passes the KV cache as `cache`, earlier versions as `past_key_values`; a batch without
        # padding may come without an attention mask, so the cache's length is asked before the mask
        past = kwargs.get("cache", kwargs.get("past_key_values"))
        if isinstance(cache_position, torch.Tensor) and cache_position.numel():
            self._offset = int(cache_position.reshape(-1)[0])
        elif past is not None and hasattr(past, "get_seq_length"):
            self._offset = int(past.get_seq_length())
        elif isinstance(mask, torch.Tensor) and mask.ndim == 2 and width is not None and mask.shape[1] >= width:
            self._offset = mask.shape[1] - width
        else:
            self._offset = 0

    def start_pass(self, offset: int = 0) -> None:
        """Begin a pass that does not go through the model's own forward (a prefix replay, prefix.py):
        its window starts at `offset`."""
        self._masks, self._offset = {}, offset

    def _mask(self, mode: PositionMode, activation: torch.Tensor) -> torch.Tensor | None:
        if mode is PositionMode.ALL:
            return None
        batch, width = activation.shape[0], activation.shape[1]
        slot = (mode, batch, width, activation.device)
        if slot not in self._masks:
            assert self._layout is not None  # guaranteed by active()
            self._masks[slot] = self._layout.position_mask(mode, self._offset, width, batch, activation.device)
        return self._masks[slot]

    def _apply(self, group: list[Intervention], activation: torch.Tensor) -> torch.Tensor:
        for intervention in group:
            mask = self._mask(intervention.positions, activation)
            activation = intervention.edit(activation, mask)
            if self._trace is not None:
                edited = activation.shape[0] * activation.shape[1] if mask is None else int(mask.sum())
                self._trace.append(EditRecord(intervention.describe(), self._offset, activation.shape[1], edited))
        return activation

    def _output_hook(self, group: list[Intervention]):
        def hook(module: nn.Module, args: tuple, output):
            if isinstance(output, tuple):
                return (self._apply(group, output[0]), *output[1:])
            return self._apply(group, output)

        return hook

    def _input_hook(self, group: list[Intervention]):
        def hook(module: nn.Module, args: tuple):
            return (self._apply(group, args[0]), *args[1:])

        return hook
