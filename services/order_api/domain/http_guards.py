"""What the HTTP guards keep: an Idempotency-Key's record, and request counts in rate-limit windows."""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

# An order's own URL, as a request's path or an answer's Location has it: Digital River's `/orders/{id}`,
# Haravan's `/com/orders/{id}.json` and `/com/orders/{id}/...`.
_ORDER_PATH: Final = re.compile(r"^(?:/com)?/orders/(\d{1,18})(?:[/.]|$)")


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


def order_of_answer(path: str, location: str | None) -> int | None:
    """The order a remembered answer is about: the one its request's path names, else the one its
    Location names (a create); None for a request about no single order."""
    for url in (path, location or ""):
        found = _ORDER_PATH.match(url)
        if found is not None:
            return int(found.group(1))
    return None


def guest_lookup_buckets(number: str, client: str) -> tuple[str, str]:
    """The rate-limit buckets of a guest's attempt: per client, and per order number and client."""
    return f"guest-lookup:ip:{client}", f"{guest_number_buckets(number)}{client}"


def guest_number_buckets(number: str) -> str:
    """What every bucket of guest attempts on order `number` begins with (the order's erasure deletes them)."""
    return f"guest-lookup:number:{number}:ip:"
