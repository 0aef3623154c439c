"""Moments on the wire: the one RFC 3339 form the portal writes (`2026-11-28T23:40:17Z`) and the
one reader of it. Everything inside the portal holds aware datetimes; they become text only
where they leave it (the provider client's query string, the job's wire form, JSON answers)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from an RFC 3339 string or an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"a time without a time zone: {value!r}")
    return moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """`2026-11-28T23:40:17Z` (with microseconds only when there are some)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
