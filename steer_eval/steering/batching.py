"""`--batch-size auto`: the largest batch that fits the device, for the longest row a call will score
(rows are sorted longest first, so every later batch fits too).

On a GPU the size is found by trying the real workload (a sweep's unsteered pass, its captured states
and a replay included) from `max_batch` down, halving on out-of-memory, as lm-eval does for plain
passes. A CPU does not fail cleanly when memory runs out (the process is killed), so there the size
comes from an estimate of the bytes one row needs against a share of the memory available now.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

CPU_MEMORY_SHARE = 0.25  # of the memory available when the size is chosen


def probe_batch_size(attempt: Callable[[int], None], max_batch: int) -> int:
    """The largest size from max_batch, max_batch/2, ..., 1 for which `attempt(size)` does not run out of
    device memory."""
    size = max_batch
    while size >= 1:
        try:
            attempt(size)
            return size
        except torch.OutOfMemoryError:
            log.info("batch size %d ran out of device memory; trying %d", size, size // 2)
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        size //= 2
    raise torch.OutOfMemoryError("even one row does not fit in device memory; use a shorter --model-args max_length")


def bytes_per_row(length: int, config: object, dtype_bytes: int, captured_states: int) -> int:
    """Peak bytes one row of `length` tokens needs: float32 logits, log-probabilities and the softmax's
    temporary over the vocabulary, plus a block's activations (attention scores, MLP width, residual
    copies) and the hidden states a sweep keeps."""
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "n_embd", 0) or 0)
    inner = int(getattr(config, "intermediate_size", 0) or getattr(config, "n_inner", 0) or 4 * hidden)
    heads = int(getattr(config, "num_attention_heads", 0) or getattr(config, "n_head", 0) or 1)
    per_token = 3 * 4 * vocab + dtype_bytes * (3 * inner + (8 + captured_states) * hidden + 2 * heads * length)
    return length * per_token


def available_memory_bytes() -> int:
    """Memory the process could still use (Linux: MemAvailable; elsewhere: free physical pages)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def cpu_batch_size(length: int, config: object, dtype_bytes: int, captured_states: int, max_batch: int) -> int:
    budget = CPU_MEMORY_SHARE * available_memory_bytes()
    return max(1, min(max_batch, int(budget // bytes_per_row(length, config, dtype_bytes, captured_states))))
