"""The cancellation worker's Kafka subscribers: order_api's lifecycle events and accepted guest
requests (one subscription, by type), the reference facts on orders.ingest (only those), and the
anonymizer's `erasure.requested` on anonymization.events (only that)."""

from services.cancellation_worker.service import postgres_ports
from services.cancellation_worker.service.erasure import ErasureService
from services.cancellation_worker.service.reference import COMPANY_FACT, REASON_FACT, ReferenceService
from services.cancellation_worker.service.refunds import RefundService
from services.cancellation_worker.service.requests import RequestService
from services.cancellation_worker.settings import CancellationSettings
from shared.consumer import BATCH_RECORDS, BatchHandler, Unprocessable
from shared.consumer_handlers import BULK_RECORDS, GATHER_MS
from shared.db import Connection
from shared.erasure_receipts import subscribe_to_erasures
from shared.events import Event
from shared.orders import OrderLifecycleData
from shared.runtime import Runtime
from shared.topics import CANCELLATIONS_REQUESTS, ORDERS_EVENTS, ORDERS_INGEST


def subscribe(runtime: Runtime[CancellationSettings]) -> None:
    ports = postgres_ports(runtime.pool, runtime.settings)
    requests = RequestService(ports)
    refunds = RefundService(ports, requests)

    async def on_event(conn: Connection, event: Event) -> None:
        if isinstance(event.data, OrderLifecycleData):
            await refunds.order_changed(conn, event, event.data)
        elif event.type == "cancellation.submitted":
            await requests.submitted(conn, event)
        else:
            raise Unprocessable(f"{event.type} is not for the cancellation worker")

    # Most order events only keep the worker's copy: those in one statement per batch, the rest one by one;
    # the batches gather (a cancellation's refund command leaves up to GATHER_MS later).
    on_events = BatchHandler(refunds.orders_changed, on_event, gather_ms=GATHER_MS)
    runtime.subscribe([ORDERS_EVENTS, CANCELLATIONS_REQUESTS], on_events, batch_records=BULK_RECORDS)
    # orders.ingest carries every fact for order_api (each payment's answer among them); only the reference
    # facts are the worker's, the rest are skipped by type before any transaction.
    runtime.subscribe_forwarding(
        [ORDERS_INGEST], ReferenceService(ports).fact, batch_records=BATCH_RECORDS, types=(REASON_FACT, COMPANY_FACT)
    )
    erasures = ErasureService(ports)
    subscribe_to_erasures(runtime, erasures.erase_order)
