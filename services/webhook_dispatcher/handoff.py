"""Messages the fan-out hands straight to this instance's sender: written already claimed, sent as soon
as their transaction commits, with no claim query and no wait for one.

For an endpoint this instance's sender has room for (`Endpoints.room`: its requests at once and,
when the lease leaves time for a wait, as many more waiting for a slot; its breaker closed; the sender
below `sender_concurrency`) and that does not keep order (an ordered endpoint's messages wait for the
claim, which holds each back behind earlier ones of its order), the fan-out writes the message
claimed: its first attempt counted and leased, as a claim would. The row stays the durable record:
should this instance die before the attempt is recorded, the lease runs out and any instance's claim
takes the message, as for a claimed one.

A fan-out's transaction NOTIFYs its own id on commit (store.insert_fanned); on that notification
the sender takes the transaction's messages (a fan-out done in one statement hands them over itself
when the statement returns, committed, and NOTIFYs only when it left messages to the claim). One that
rolled back never notifies: its messages were never written, and are forgotten with the room they held.
So is one whose commit is heard only after half the lease: its messages are left to the claim once their
lease runs out (late, never twice).
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from prometheus_client import Counter as Metric

from services.webhook_dispatcher.domain import Delivery, Written
from services.webhook_dispatcher.store import ALL_LEASED

# Beside `webhook_messages_claimed_total`: how a message reached this instance's sender.
HANDED_OVER = Metric("webhook_messages_handed_over_total", "Messages the fan-out handed straight to this sender")

# Of the lease, how much may have passed between a message's write and its hand-over.
HAND_OVER_WITHIN: Final = 0.5


@dataclass
class _Waiting:
    since: float
    deliveries: list[Delivery] = field(default_factory=list)
    claim_too: bool = False  # it also wrote messages left to the claim


class Handoff:
    """Between this instance's fan-out and its sender: which endpoints may be handed messages, and the
    messages waiting for their transaction's commit."""

    def __init__(self, lease: timedelta, clock: Callable[[], float] = time.monotonic) -> None:
        self._within = lease.total_seconds() * HAND_OVER_WITHIN
        self._clock = clock
        self._waiting: dict[str, _Waiting] = {}
        self._reserved: Counter[uuid.UUID] = Counter()
        self._room: Callable[[uuid.UUID], int] | None = None
        self._free: Callable[[], int] = lambda: 0
        self._send: Callable[[Delivery], None] = lambda _: None

    def attach(
        self, room: Callable[[uuid.UUID], int], free: Callable[[], int], send: Callable[[Delivery], None]
    ) -> None:
        """The sender, while it runs: how many more messages of an endpoint it takes, its free slots,
        and how it takes a message."""
        self._room, self._free, self._send = room, free, send

    def detach(self) -> None:
        self._room = None

    def room(self, endpoint_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """Those of `endpoint_ids` (one per message; an endpoint may come again) the sender takes one
        more message of now, in order (none while it is not running)."""
        if self._room is None:
            return []
        free = self._free() - self._reserved.total()
        taken: Counter[uuid.UUID] = Counter()
        for endpoint_id in endpoint_ids:
            if free <= 0:
                break
            if self._room(endpoint_id) > self._reserved[endpoint_id] + taken[endpoint_id]:
                taken[endpoint_id] += 1
                free -= 1
        return list(taken.elements())

    def in_flight(self, busy: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
        """`busy` with the messages handed over but not yet taken counted in, for the claim."""
        return dict(Counter(busy) + self._reserved)

    def written(self, written: Written) -> None:
        """Note what a fan-out wrote, in a transaction not yet committed."""
        now = self._clock()
        self._forget_older_than(now - self._within)
        waiting = self._waiting.setdefault(written.transaction, _Waiting(now))
        waiting.deliveries.extend(written.leased)
        waiting.claim_too |= written.inserted > len(written.leased)
        self._reserved.update(delivery.endpoint_id for delivery in written.leased)

    def committed(self, notified: str) -> bool:
        """A transaction committed (`notified`: its id, as its NOTIFY or the fan-out's own statement
        names it): hand its messages to the sender. Whether a claim is called for: by a transaction
        not of this fan-out's, or one that left messages to the claim, unless it leased every message
        it wrote (store.ALL_LEASED)."""
        self._forget_older_than(self._clock() - self._within)
        transaction = notified.removesuffix(ALL_LEASED)
        waiting = self._waiting.pop(transaction, None)
        if waiting is None:
            return transaction == notified
        self._release(waiting)
        if self._room is not None:
            for delivery in waiting.deliveries:
                self._send(delivery)
            HANDED_OVER.inc(len(waiting.deliveries))
        return waiting.claim_too

    def _forget_older_than(self, cutoff: float) -> None:
        for transaction in [key for key, waiting in self._waiting.items() if waiting.since < cutoff]:
            self._release(self._waiting.pop(transaction))

    def _release(self, waiting: _Waiting) -> None:
        self._reserved.subtract(delivery.endpoint_id for delivery in waiting.deliveries)
        self._reserved = +self._reserved  # drop the zeros
