"""Retention (ANONYMIZER_RETENTION_DAYS): every order is anonymized that many days after order_api says
it became eligible (its snapshot's `eligible_since`, kept in the copy), without anyone asking. Each
sweep takes a batch of the orders due, longest eligible first, and asks for them as a customer erasure
does (`requests.ask_to_anonymize`), under one `retention` request that the erasures API lists; order_api
anonymizes each (it checks eligibility again) and the saga erases and collects the receipts as for any
other order. An order with an erasure already (waiting, under way or done) is not due.

Several instances may run the sweep: one sweeps at a time (the others skip their run), and the orders
it takes are locked, skipping any whose event is being recorded meanwhile."""

import uuid
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from services.anonymizer.domain import ErasureRequest, retention_cutoff
from services.anonymizer.service.ports import Ports
from services.anonymizer.service.requests import ask_to_anonymize
from shared.logging import get_logger

REQUESTED = Counter(
    "anonymizer_retention_orders_requested_total", "Orders the retention sweep asked order_api to anonymize"
)
DUE = Gauge("anonymizer_retention_orders_due", "Orders past the retention period not asked for yet, after a sweep")
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep did: the request it recorded (None when nothing was due) over `requested` orders,
    and how many orders are still due after it."""

    request_id: uuid.UUID | None
    requested: int
    remaining: int


class RetentionService:
    def __init__(self, ports: Ports, days: float) -> None:
        self._ports = ports
        self._store = ports.store
        self._days = days

    async def sweep(self) -> Sweep | None:
        """One sweep, in one transaction: up to a batch of the orders due asked for under a new
        `retention` request. None when another instance is sweeping."""
        now = self._ports.clock()
        cutoff = retention_cutoff(now, self._days)
        async with self._ports.db.acquire() as conn, conn.transaction():
            if not await self._store.lock_retention_sweep(conn):
                return None
            order_ids = await self._store.retention_due(conn, cutoff, self._ports.settings.retention_batch_size)
            request_id = None
            if order_ids:
                request = ErasureRequest(id=uuid.uuid4(), kind="retention", status="waiting", created_at=now)
                await ask_to_anonymize(self._ports, conn, request, order_ids, customer_id=None)
                await self._store.refresh_request(conn, request.id, now)
                request_id = request.id
            remaining = await self._store.count_retention_due(conn, cutoff)
        REQUESTED.inc(len(order_ids))
        DUE.set(remaining)
        if order_ids:
            log.info(
                "retention sweep asked to anonymize orders",
                request_id=str(request_id),
                requested=len(order_ids),
                remaining=remaining,
                eligible_before=cutoff.isoformat(),
            )
        return Sweep(request_id, len(order_ids), remaining)
