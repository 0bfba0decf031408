"""`--shard I/N`: one of N disjoint parts of a grid, the same for every process given the same command, so a
job array on a cluster (or N processes on N GPUs) covers one grid in one run folder (issue 22).

Cells that score the same requests (one task, few-shot setting, option order, arm and condition: a prefix
group, execute.py) are kept together where the grid has at least as many groups as shards, since a group
shares its unsteered computation; groups are dealt largest first to the part with the fewest cells so far.
With fewer groups than shards, cells are dealt one by one, round robin, in grid order."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from steer_eval.errors import SteerEvalError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str | None) -> Shard | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise SteerEvalError(
            f"--shard {text!r}: give I/N with 1 <= I <= N, e.g. --shard 2/4 for the second of four parts "
            "(a job array's task id)"
        )
    return Shard(int(match[1]), int(match[2]))


def shard_part(items: list[T], shard: Shard | None, group_of: Callable[[T], Hashable]) -> list[T]:
    """The items of `shard`, in their grid order."""
    if shard is None or shard.count == 1:
        return list(items)
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(group_of(item), []).append(index)
    owner: dict[int, int] = {}
    if len(groups) >= shard.count:
        sizes = [0] * shard.count
        for members in sorted(groups.values(), key=lambda m: (-len(m), m[0])):  # largest first, then grid order
            part = min(range(shard.count), key=lambda p: (sizes[p], p))
            sizes[part] += len(members)
            owner.update(dict.fromkeys(members, part))
    else:
        owner = {index: index % shard.count for index in range(len(items))}
    return [item for index, item in enumerate(items) if owner[index] == shard.index - 1]
