"""Deadlines: the server's clock only. Pure."""

from datetime import datetime, timedelta
from decimal import Decimal


def deadline(
    *,
    started_at: datetime,
    duration_minutes: int,
    extra_time_percent: int,
    closes_at: datetime,
    accommodated_beyond_close: bool,
) -> datetime:
    """start + duration × (1 + extra time), capped by the closing time.

    An accommodated candidate keeps their whole extra time past the closing time when the
    session allows it (the default).
    """
    seconds = Decimal(duration_minutes * 60) * (1 + Decimal(extra_time_percent) / 100)
    end = started_at + timedelta(seconds=int(seconds))
    if extra_time_percent > 0 and accommodated_beyond_close:
        return end
    return min(end, closes_at)


def remaining_seconds(*, deadline_at: datetime, now: datetime) -> int:
    """Whole seconds left, never negative."""
    return max(0, int((deadline_at - now).total_seconds()))


def accepts_saves(*, deadline_at: datetime, now: datetime, grace_seconds: int) -> bool:
    """Saves are accepted until the deadline plus the grace (network latency)."""
    return now <= deadline_at + timedelta(seconds=grace_seconds)
