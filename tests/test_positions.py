"""Position masks: which tokens each mode steers, for scoring (both paddings) and generation windows."""

from __future__ import annotations

import torch

from steer_eval.steering.positions import SequenceLayout
from steer_eval.vocab import PositionMode


def steered(layout: SequenceLayout, mode: PositionMode, offset: int, width: int) -> list[list[int]]:
    mask = layout.position_mask(mode, offset, width, layout.batch_size, torch.device("cpu"))
    if mask is None:
        return [list(range(offset, offset + width))] * layout.batch_size
    return [[offset + int(i) for i in torch.nonzero(row.squeeze(-1)).flatten()] for row in mask]


def test_scoring_right_padding_modes() -> None:
    # row 0: 5 tokens, prompt 3 (continuation of 3 tokens: the input holds 2 of them); row 1: 3 tokens, prompt 2
    layout = SequenceLayout.for_scoring([5, 3], [3, 2], width=5, padding_side="right")
    assert steered(layout, PositionMode.PROMPT, 0, 5) == [[0, 1, 2], [0, 1]]
    assert steered(layout, PositionMode.LAST_PROMPT, 0, 5) == [[2], [1]]
    assert steered(layout, PositionMode.GENERATED, 0, 5) == [[2, 3, 4], [1, 2]]
    assert steered(layout, PositionMode.ALL, 0, 5) == [[0, 1, 2, 3, 4]] * 2


def test_scoring_left_padding_shifts_every_span() -> None:
    layout = SequenceLayout.for_scoring([5, 3], [3, 2], width=5, padding_side="left")
    assert steered(layout, PositionMode.PROMPT, 0, 5) == [[0, 1, 2], [2, 3]]
    assert steered(layout, PositionMode.LAST_PROMPT, 0, 5) == [[2], [3]]
    assert steered(layout, PositionMode.GENERATED, 0, 5) == [[2, 3, 4], [3, 4]]


def test_generation_windows_under_kv_cache() -> None:
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    layout = SequenceLayout.for_generation(mask)
    # prefill window [0, 4)
    assert steered(layout, PositionMode.PROMPT, 0, 4) == [[2, 3], [0, 1, 2, 3]]
    assert steered(layout, PositionMode.LAST_PROMPT, 0, 4) == [[3], [3]]
    assert steered(layout, PositionMode.GENERATED, 0, 4) == [[3], [3]]  # yields the first generated token
    # decode steps: window [4, 5), [5, 6)
    for offset in (4, 5):
        assert steered(layout, PositionMode.PROMPT, offset, 1) == [[], []]
        assert steered(layout, PositionMode.LAST_PROMPT, offset, 1) == [[], []]
        assert steered(layout, PositionMode.GENERATED, offset, 1) == [[offset], [offset]]


def test_expanded_batches_repeat_rows() -> None:
    layout = SequenceLayout.for_scoring([2, 4], [1, 3], width=4, padding_side="right")
    mask = layout.position_mask(PositionMode.LAST_PROMPT, 0, 4, 4, torch.device("cpu"))
    assert mask is not None and mask.shape == (4, 4, 1)
    assert [int(torch.nonzero(r.squeeze(-1))) for r in mask] == [0, 0, 2, 2]
