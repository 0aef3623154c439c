"""Time shards of a statistics run: a created range cut into slices that are fetched separately."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sarportal.domain.moments import parse_time, rfc3339

PAGE_SIZE = 1000


@dataclass(frozen=True)
class Shard:
    """One slice [created_from, created_to) of a period, fetched page by page, newest first."""

    created_from: datetime
    created_to: datetime
    period: str = "current"  # or "previous"

    def filters(self, base: Mapping[str, Any], *, limit: int = PAGE_SIZE) -> dict[str, Any]:
        """The provider list parameters of this shard's pages (the cursor comes separately)."""
        return {
            **base,
            "created_from": rfc3339(self.created_from),
            "created_to": rfc3339(self.created_to),
            "limit": limit,
            "order": "created_desc",
        }


def plan_shards(
    created_from: datetime | str,
    created_to: datetime | str,
    *,
    target_shards: int,
    period: str = "current",
) -> list[Shard]:
    """Cut [created_from, created_to) into up to `target_shards` slices of equal length at whole
    seconds, newest first."""
    start, end = parse_time(created_from), parse_time(created_to)
    if end <= start:
        return []
    span = end - start
    inner = set()
    for number in range(1, max(1, target_shards)):
        cut = start + span * number / target_shards
        cut = cut.replace(microsecond=0)
        if start < cut < end:
            inner.add(cut)
    edges = [start, *sorted(inner), end]
    return [Shard(low, high, period) for low, high in reversed(list(itertools.pairwise(edges)))]
