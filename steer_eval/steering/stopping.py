"""Stop sequences checked per row: lm-eval's rule for when a generated text has reached a stop sequence, with
each row stopping on its own.

lm-eval's `MultiTokenEOSCriteria` decodes the last few tokens of every row at every step, once per stop
sequence, and ends the batch only when one stop sequence has appeared in every row; rows that are done keep
generating (their text is cut at the stop sequence afterwards). A generation sweep puts five or more settings'
rows in one batch, so that costs a decode of every row per stop sequence per step and keeps finished rows
decoding until the slowest row of the batch is done with the same sequence. Here a row is done as soon as any
stop sequence shows in its lookback window (the same window lm-eval looks at: the sequence's token count
plus 2, generated tokens only), finished rows are not decoded again, and `generate` pads them (its per-row
stopping). The text a row is cut to is the same: everything before the first stop sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import StoppingCriteria


class StopSequences(StoppingCriteria):
    """Per-row stopping on any of `stop` for a batch whose prompts are `prompt_length` tokens long (padded)."""

    def __init__(self, tokenizer, stop: Sequence[str], prompt_length: int, rows: int) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        # lm-eval's window: the sequence's own token count plus 2, since a model may write it in other tokens
        self.windows = [(text, len(tokenizer.encode(text, add_special_tokens=False)) + 2) for text in stop if text]
        self.lookback = max((window for _, window in self.windows), default=0)
        self.done = torch.zeros(rows, dtype=torch.bool)

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        pending = (~self.done).nonzero().flatten()
        if self.windows and len(pending):
            tails = input_ids[pending.to(input_ids.device), self.prompt_length :][:, -self.lookback :].tolist()
            found = torch.zeros(len(tails), dtype=torch.bool)
            for window in sorted({window for _, window in self.windows}):  # one batched decode per window size
                texts = self.tokenizer.batch_decode([tail[-window:] for tail in tails])
                stops = [text for text, size in self.windows if size == window]
                found |= torch.tensor([any(stop in text for stop in stops) for text in texts])
            self.done[pending[found]] = True
        return self.done.to(input_ids.device)
