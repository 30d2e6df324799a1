"""The erasure saga (design section 5): an anonymized order's erasure is opened, every configured
service is asked for its receipt through the outbox, receipts close it, and a record past its deadline
is reported overdue and asked again. Every step is idempotent: a repeated event changes nothing."""

from datetime import datetime, timedelta

from prometheus_client import Counter

from services.anonymizer import domain
from services.anonymizer.domain import OrderErasure, Receipt
from services.anonymizer.service.ports import Ports
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.erasure import ERASURE_OVERDUE, ERASURE_REQUESTED, ErasureCompleted, ErasureOverdue, ErasureRequested
from shared.events import Event
from shared.logging import get_logger
from shared.orders import OrderLifecycleData, Snapshot
from shared.services import ANONYMIZER
from shared.topics import ANONYMIZATION_EVENTS

SOURCE = ANONYMIZER.name
OVERDUE = Counter(
    "anonymizer_erasures_overdue_total", "Erasure receipts missing at a deadline, by service", ["service"]
)
log = get_logger(__name__)


class ErasureService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports
        self._store = ports.store
        self._deadline = timedelta(seconds=ports.settings.receipt_deadline_seconds)

    async def order_anonymized(self, conn: Connection, data: OrderLifecycleData) -> OrderErasure | None:
        """Open the order's erasure (in the consumer's transaction): erase the anonymizer's own copy and
        record its receipt, ask every configured service for theirs. None when it was opened before."""
        now = self._ports.clock()
        customer = data.order.customer
        erasure = await self._store.open_erasure(
            conn,
            domain.opened(
                data.order_id,
                data.sequence,
                customer.id if customer is not None else None,
                self._ports.settings.receipt_services,
                now=now,
                deadline=self._deadline,
            ),
        )
        if erasure is None:
            log.info("order erasure already opened", order_id=data.order_id)
            return None
        await self._store.ensure_order_request(conn, erasure, "order", now)
        rows = await self._store.forget_order(conn, data.order_id)
        own = Receipt(erasure.erasure_id, erasure.order_id, SOURCE, {"known_orders": rows}, erasure.attempt, now)
        erasure = await self._receive(conn, erasure, own)
        if erasure.state != "complete":  # else the anonymizer was the only service configured
            await self._request(conn, erasure)
        await self._store.refresh_requests(conn, erasure.order_id, now)
        log.info("order erasure requested", order_id=erasure.order_id, erasure_id=str(erasure.erasure_id))
        return erasure

    async def forget_requested(self, conn: Connection, order_id: int, customer_id: int | None) -> None:
        """An order whose customer asked to be forgotten (Digital River's requestToBeForgotten), not
        anonymized yet (in the consumer's transaction): its erasure waits for order_api to anonymize it
        when it becomes eligible, under a `forget` request unless a request covers it already."""
        erasure = await self._store.wait_for(conn, domain.waiting(order_id, customer_id))
        if erasure.state == "waiting":
            await self._store.ensure_order_request(conn, erasure, "forget", self._ports.clock())

    async def receipt(self, conn: Connection, event: Event) -> None:
        """A service's `erasure.completed` (in the consumer's transaction): kept once; the erasure is
        complete when every expected service answered, late (overdue) answers included."""
        if not isinstance(event.data, ErasureCompleted):
            raise Unprocessable(f"{event.type} is not a receipt")
        data = event.data
        erasure = await self._store.fetch_erasure(conn, data.erasure_id, lock=True)
        if erasure is None or erasure.order_id != data.order_id:
            raise Unprocessable(f"no erasure {data.erasure_id} of order {data.order_id}")
        receipt = Receipt(
            data.erasure_id, data.order_id, data.service, dict(data.rows), data.attempt, data.completed_at
        )
        if (await self._receive(conn, erasure, receipt)).state == "complete" and erasure.state != "complete":
            await self._store.refresh_requests(conn, erasure.order_id, self._ports.clock())

    async def report_overdue(self) -> int:
        """Every record past its deadline with receipts missing: `erasure.overdue`, the metric and a
        warning, and the request sent again with a new deadline. How many were overdue."""
        now = self._ports.clock()
        async with self._ports.db.acquire() as conn, conn.transaction():
            due = await self._store.due_erasures(conn, now, self._ports.settings.overdue_batch_size)
            for erasure in due:
                await self._overdue(conn, erasure, now)
        return len(due)

    async def _overdue(self, conn: Connection, erasure: OrderErasure, now: datetime) -> None:
        missing = domain.missing(erasure, await self._store.receipts_of(conn, erasure.erasure_id))
        if not missing:  # every receipt is in: closing it was missed, never expected
            await self._complete(conn, erasure, now)
            return
        assert erasure.requested_at is not None, "an open erasure was requested"
        assert erasure.deadline_at is not None, "an open erasure has a deadline"
        report = ErasureOverdue(
            erasure_id=erasure.erasure_id,
            order_id=erasure.order_id,
            missing=missing,
            attempt=erasure.attempt,
            requested_at=erasure.requested_at,
            deadline_at=erasure.deadline_at,
        )
        await self._publish(conn, ERASURE_OVERDUE, erasure.order_id, report)
        again = domain.next_attempt(erasure, now, self._deadline)
        await self._store.save_erasure(conn, again)
        await self._request(conn, again)
        await self._store.refresh_requests(conn, erasure.order_id, now)
        for service in missing:
            OVERDUE.labels(service).inc()
        log.warning(
            "erasure receipts overdue, request sent again",
            order_id=erasure.order_id,
            erasure_id=str(erasure.erasure_id),
            missing=missing,
            attempt=again.attempt,
        )

    async def _receive(self, conn: Connection, erasure: OrderErasure, receipt: Receipt) -> OrderErasure:
        """Keep the receipt and close the erasure when it was the last one missing."""
        receipts = await self._store.insert_receipt(conn, receipt)
        if receipts is None or erasure.state in ("complete", "waiting") or domain.missing(erasure, receipts):
            return erasure
        return await self._complete(conn, erasure, receipt.received_at)

    async def _complete(self, conn: Connection, erasure: OrderErasure, now: datetime) -> OrderErasure:
        done = domain.completed(erasure, now)
        await self._store.save_erasure(conn, done)
        log.info("order erasure complete", order_id=erasure.order_id, erasure_id=str(erasure.erasure_id))
        return done

    async def _request(self, conn: Connection, erasure: OrderErasure) -> None:
        assert erasure.anonymized_sequence is not None, "only an anonymized order is erased"
        assert erasure.requested_at is not None, "an open erasure was requested"
        request = ErasureRequested(
            erasure_id=erasure.erasure_id,
            order_id=erasure.order_id,
            customer_id=erasure.customer_id,
            anonymized_sequence=erasure.anonymized_sequence,
            services=list(erasure.services),
            attempt=erasure.attempt,
            requested_at=erasure.requested_at,
        )
        await self._publish(conn, ERASURE_REQUESTED, erasure.order_id, request)

    async def _publish(self, conn: Connection, event_type: str, order_id: int, data: Snapshot) -> None:
        await self._ports.outbox.enqueue(conn, ANONYMIZATION_EVENTS, Event.new(event_type, SOURCE, str(order_id), data))
