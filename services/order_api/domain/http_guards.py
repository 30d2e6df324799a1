"""What the HTTP guards keep: an Idempotency-Key's record, and request counts in rate-limit windows."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What an Idempotency-Key holds: the first request's fingerprint and, once it finished, its answer."""

    fingerprint: str
    status: int | None  # None while the first request is still in flight
    headers: list[tuple[str, str]]
    body: bytes


class WindowCount(NamedTuple):
    """A bucket's requests so far in its current fixed window, and the seconds until the window ends."""

    bucket: str
    hits: int
    remaining_seconds: float


def retry_after(limits: Mapping[str, int], counted: Sequence[WindowCount]) -> int | None:
    """The whole seconds to wait once any bucket is over its limit (at least 1); None when none is."""
    waits = [count.remaining_seconds for count in counted if count.hits > limits[count.bucket]]
    return max(1, math.ceil(max(waits))) if waits else None
