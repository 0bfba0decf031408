"""Which token positions an intervention edits, in every forward pass of scoring and of generation.

A `SequenceLayout` describes a padded batch in absolute (padded) coordinates: for each row, where its
real tokens start, where its prompt ends, and where its real tokens end. Under the KV cache a forward
pass only sees a window [offset, offset + width) of those coordinates; `position_mask` turns a mode
into a boolean mask over that window. The modes (see docs/steering.md for the full table):

- all:         every position, padding included (padding never influences real tokens)
- prompt:      start <= p < prompt_end              (few-shot examples are prompt tokens)
- last_prompt: p == prompt_end - 1
- generated:   prompt_end - 1 <= p < end            (every position whose output predicts an answer /
               generated token: the last prompt token, which yields the first generated token, and
               each decode step after it)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steer_eval.vocab import PositionMode

OPEN_END = 2**62  # "no end yet": generation keeps appending tokens


@dataclass(frozen=True)
class SequenceLayout:
    """Per-row spans of a padded batch, in padded coordinates (all tensors are [batch], int64, CPU)."""

    start: torch.Tensor
    prompt_end: torch.Tensor
    end: torch.Tensor

    def __post_init__(self) -> None:
        if not (self.start.shape == self.prompt_end.shape == self.end.shape) or self.start.ndim != 1:
            raise ValueError("layout tensors must be 1-D and of equal length")
        if bool((self.prompt_end <= self.start).any()) or bool((self.end < self.prompt_end).any()):
            raise ValueError("every row needs at least one prompt token and end >= prompt_end")

    @property
    def batch_size(self) -> int:
        return int(self.start.shape[0])

    @classmethod
    def for_generation(cls, attention_mask: torch.Tensor) -> SequenceLayout:
        """Left-padded prompts about to be extended by `generate`: prompts end at the padded width."""
        mask = attention_mask.detach().to("cpu", torch.long)
        width = mask.shape[1]
        lengths = mask.sum(dim=1)
        start = width - lengths
        prompt_end = torch.full_like(start, width)
        return cls(start=start, prompt_end=prompt_end, end=torch.full_like(start, OPEN_END))

    @classmethod
    def for_scoring(
        cls, lengths: list[int], prompt_lengths: list[int], width: int, padding_side: str
    ) -> SequenceLayout:
        """Rows of `lengths` real tokens, of which the first `prompt_lengths` are prompt, padded to `width`."""
        length = torch.tensor(lengths, dtype=torch.long)
        prompt = torch.tensor(prompt_lengths, dtype=torch.long)
        start = width - length if padding_side == "left" else torch.zeros_like(length)
        return cls(start=start, prompt_end=start + prompt, end=start + length)

    def position_mask(
        self, mode: PositionMode, offset: int, width: int, batch_size: int, device: torch.device
    ) -> torch.Tensor | None:
        """Boolean mask [batch, width, 1] of the positions `mode` steers in the window; None = all."""
        if mode is PositionMode.ALL:
            return None
        positions = torch.arange(offset, offset + width).unsqueeze(0)  # [1, width]
        start, prompt_end, end = (t.unsqueeze(1) for t in self._rows(batch_size))
        if mode is PositionMode.PROMPT:
            mask = (positions >= start) & (positions < prompt_end)
        elif mode is PositionMode.LAST_PROMPT:
            mask = positions == prompt_end - 1
        else:
            mask = (positions >= prompt_end - 1) & (positions < end)
        return mask.unsqueeze(-1).to(device)

    def _rows(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The spans repeated to the batch size seen in the forward pass (beam search expands rows)."""
        if batch_size == self.batch_size:
            return self.start, self.prompt_end, self.end
        if batch_size % self.batch_size:
            raise ValueError(f"forward batch of {batch_size} rows does not match a layout of {self.batch_size}")
        repeat = batch_size // self.batch_size
        return tuple(t.repeat_interleave(repeat) for t in (self.start, self.prompt_end, self.end))  # type: ignore[return-value]
