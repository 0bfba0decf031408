"""One intervention = one vector acting at one site key with one action, strength and position mode.
This module owns the arithmetic of the actions; hooks.py decides when and where it runs.

All edits are out of place. The vector is cast to the activation's device and dtype inside the hook
(cached per device/dtype), so GPU, half precision and sharded (`device_map="auto"`) models just work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from steer_eval.vectors.format import SiteKey, SteeringVector
from steer_eval.vocab import Action, PositionMode, Site


@dataclass(eq=False)
class Intervention:
    key: SiteKey
    direction: torch.Tensor  # 1-D float32; for AU scaling: beta per unit, zero where not selected
    action: Action = Action.ADD
    alpha: float = 1.0
    positions: PositionMode = PositionMode.ALL
    bias: torch.Tensor | None = None  # clamp only: the clamp acts on (a - bias)
    label: str = ""
    # which rows of the batch it acts on (bool [batch]; None: all): a generation sweep runs several settings
    # in one batch, each on its own rows (steering/generation.py)
    rows: torch.Tensor | None = None
    # add only: a strength per batch row (float [batch]) instead of `alpha`: one edit serves every strength of
    # a generation sweep (rows of other settings get 0, which adds exactly nothing)
    row_alpha: torch.Tensor | None = None
    _cast: dict[tuple[torch.device, torch.dtype], tuple] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.direction = self.direction.detach().to("cpu", torch.float32)
        if self.bias is not None:
            self.bias = self.bias.detach().to("cpu", torch.float32)

    def describe(self) -> str:
        name = f"{self.label} " if self.label else ""
        return f"{name}{self.action.value} {self.key} alpha={self.alpha:g} positions={self.positions.value}"

    def edit(self, activation: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Return the edited activation; `mask` [batch, seq, 1] selects positions (None = all)."""
        if self.key.site is Site.HEAD:
            width = self.direction.numel()
            columns = slice(self.key.head * width, (self.key.head + 1) * width)
            edited = activation.clone()
            edited[..., columns] = self._edit(activation[..., columns], mask)
            return edited
        return self._edit(activation, mask)

    def _edit(self, a: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        vector, unit, bias = self._on(a)
        if self.action is Action.ADD:
            strength = self.alpha if self.row_alpha is None else self._row_alpha(a)
            new = a + strength * vector
        elif self.action is Action.AU_SCALE:
            new = a + a * (self.alpha * vector)
        elif self.action is Action.CLAMP:
            shifted = a if bias is None else a - bias
            projection = (shifted * unit).sum(dim=-1, keepdim=True)
            new = a + unit * (self.alpha - projection)
        else:  # ABLATE
            projection = (a * unit).sum(dim=-1, keepdim=True)
            new = a - self.alpha * projection * unit
        if self.rows is not None:
            rows = self.rows.to(a.device).view(-1, *([1] * (a.ndim - 1)))
            mask = rows if mask is None else mask & rows
        return new if mask is None else torch.where(mask, new, a)

    def _row_alpha(self, like: torch.Tensor) -> torch.Tensor:
        return self.row_alpha.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def with_row_alphas(self, alphas: torch.Tensor) -> Intervention:
        """This add intervention with a strength per batch row."""
        if self.action is not Action.ADD:
            raise ValueError("only an add intervention takes a strength per row")
        return replace(self, row_alpha=alphas.to(torch.float32))

    def on_rows(self, rows: torch.Tensor) -> Intervention:
        """The same intervention acting only on the batch rows where `rows` is True."""
        return replace(self, rows=rows.to(torch.bool))

    def _on(self, like: torch.Tensor) -> tuple:
        slot = (like.device, like.dtype)
        if slot not in self._cast:
            unit = self.direction / self.direction.norm().clamp_min(torch.finfo(torch.float32).tiny)
            bias = None if self.bias is None else self.bias.to(*slot)
            self._cast[slot] = (self.direction.to(*slot), unit.to(*slot), bias)
        return self._cast[slot]


def interventions_from_vector(
    vector: SteeringVector,
    alpha: float | None = None,
    positions: PositionMode | None = None,
    label: str = "",
    layer: int | None = None,
) -> list[Intervention]:
    """One intervention per applied tensor of `vector` (all of them, or one layer of a per-layer vector),
    in site-key order, with the file's defaults unless given."""
    return [
        Intervention(
            key=key,
            direction=vector.directions[key],
            action=vector.meta.action,
            alpha=vector.meta.default_alpha if alpha is None else float(alpha),
            positions=vector.meta.positions if positions is None else positions,
            bias=vector.biases.get(key),
            label=label,
        )
        for key in vector.applied_keys(layer)
    ]
