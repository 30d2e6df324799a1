"""The cancellation worker's part of an anonymized order's erasure (design section 5): on the
anonymizer's `erasure.requested`, erase the order's IBANs, holder names, what guests wrote and its
emails in the consumer's transaction, and answer with a receipt through the outbox in that same
transaction. A repeated request erases nothing more and answers again."""

from collections.abc import Callable
from datetime import UTC, datetime

from services.cancellation_worker.service.ports import Ports
from shared.db import Connection
from shared.erasure import ErasureRequested
from shared.erasure_receipts import receipt
from shared.logging import get_logger
from shared.services import CANCELLATION_WORKER
from shared.topics import ANONYMIZATION_EVENTS

log = get_logger(__name__)


class CopyNotMasked(Exception):
    """The worker's copy of the order is older than its anonymization (orders.events and
    anonymization.events are read apart): retried until `order.anonymized` has masked it."""


def _now() -> datetime:
    return datetime.now(UTC)


class ErasureService:
    def __init__(self, ports: Ports, *, clock: Callable[[], datetime] = _now) -> None:
        self._ports = ports
        self._clock = clock

    async def erase_order(self, conn: Connection, request: ErasureRequested) -> dict[str, int]:
        """Erase the order's personal data and publish the receipt; the rows touched, by table."""
        store = self._ports.store
        copy = await store.fetch_order(conn, request.order_id, lock=True)
        if copy is not None and not copy.anonymized:
            raise CopyNotMasked(f"order {request.order_id}'s copy is not anonymized yet")
        rows = await store.erase_order(conn, request.order_id)
        event = receipt(request, CANCELLATION_WORKER.name, rows, self._clock())
        await self._ports.outbox.enqueue(conn, ANONYMIZATION_EVENTS, event)
        log.info("order erased", order_id=request.order_id, attempt=request.attempt, rows=rows)
        return rows
