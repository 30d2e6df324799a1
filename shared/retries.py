"""Retry schedules: how long to wait before the next try of something that failed."""

import random
from collections.abc import Sequence
from datetime import timedelta


def next_delay(attempts_made: int, schedule: Sequence[float], jitter: float = 0.1) -> timedelta | None:
    """Wait before the next try after `attempts_made` failed ones, or None when the schedule is spent.

    Jitter (+/- `jitter` of the delay) spreads retries of a burst so a recovering peer is not hit by
    all of them in the same second.
    """
    if attempts_made > len(schedule):
        return None
    factor = 1 + random.uniform(-jitter, jitter)  # noqa: S311 - spreading load, not security
    return timedelta(seconds=schedule[attempts_made - 1] * factor)
