"""What every service that holds personal data does with `erasure.requested` (design section 5, step 2):
subscribe to it alone on anonymization.events, erase its copies of the order in the consumer's
transaction, and answer with an `erasure.completed` receipt through its outbox in that same
transaction. The erasing is each service's own; the subscription and the receipt are this module's.
"""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from shared.consumer import BATCH_RECORDS, EventHandler, Unprocessable
from shared.db import Connection
from shared.erasure import ERASURE_COMPLETED, ERASURE_REQUESTED, ErasureCompleted, ErasureRequested
from shared.events import Event
from shared.runtime import Runtime
from shared.topics import ANONYMIZATION_EVENTS

# What erases a service's copies of the order (what it returns, the rows touched, is its own business).
ErasureHandler = Callable[[Connection, ErasureRequested], Awaitable[object]]


def receipt(request: ErasureRequested, service: str, rows: Mapping[str, int], now: datetime) -> Event:
    """`service`'s receipt for `request`: the rows it touched, by table (keyed by the order id)."""
    completed = ErasureCompleted(
        erasure_id=request.erasure_id,
        order_id=request.order_id,
        service=service,
        rows=dict(rows),
        attempt=request.attempt,
        completed_at=now,
    )
    return Event.new(ERASURE_COMPLETED, service, str(request.order_id), completed)


def on_erasure_requested(erase: ErasureHandler) -> EventHandler:
    """An anonymization.events handler that gives `erase` each `erasure.requested` with its typed data."""

    async def handle(conn: Connection, event: Event) -> None:
        if not isinstance(event.data, ErasureRequested):
            raise Unprocessable(f"{event.type} is not an erasure request")
        await erase(conn, event.data)

    handle.__name__ = getattr(erase, "__name__", "erase_order")
    return handle


def subscribe_to_erasures(runtime: Runtime[Any], erase: ErasureHandler) -> None:
    """Consume `erasure.requested` only (receipts and overdue reports are skipped by type, unparsed), a
    batch per poll: many erasures in one transaction, the offsets committed once per batch (an error
    in a batch has its records processed again one by one)."""
    runtime.subscribe(
        [ANONYMIZATION_EVENTS], on_erasure_requested(erase), batch_records=BATCH_RECORDS, types=(ERASURE_REQUESTED,)
    )
