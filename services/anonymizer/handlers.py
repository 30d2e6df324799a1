"""The anonymizer's Kafka subscribers: order_api's lifecycle events (its copy, and `order.anonymized`
opening an erasure) and, on anonymization.events, the receipts: the services' `erasure.completed` for
an order, order_api's `customer.erased` for a customer record (only those, dispatched by type: one
subscription, as every subscription of the service shares one consumer group)."""

from collections.abc import Mapping

from services.anonymizer.service import postgres_ports
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.orders import OrderCopyService
from services.anonymizer.service.requests import ErasureRequestService
from services.anonymizer.settings import AnonymizerSettings
from shared.consumer import BATCH_RECORDS, BatchHandler, EventHandler
from shared.consumer_handlers import BULK_RECORDS, GATHER_MS
from shared.db import Connection
from shared.erasure import CUSTOMER_ERASED, ERASURE_COMPLETED
from shared.events import Event
from shared.order_copies import on_order_lifecycle
from shared.runtime import Runtime
from shared.topics import ANONYMIZATION_EVENTS, ORDERS_EVENTS


def on_receipt(handlers: Mapping[str, EventHandler]) -> EventHandler:
    """One handler for the receipts' types, each receipt given to its type's handler."""

    async def receipt(conn: Connection, event: Event) -> None:
        await handlers[event.type](conn, event)

    return receipt


def subscribe(runtime: Runtime[AnonymizerSettings]) -> None:
    ports = postgres_ports(runtime.pool, runtime.settings)
    erasures = ErasureService(ports)
    # Both a batch per poll (many records in one transaction, the offsets committed once per batch).
    copies = OrderCopyService(ports, erasures)
    # Most order events only keep the copy: those in one statement per batch, the rest one by one; the
    # batches gather (nobody waits on a copy).
    on_orders = BatchHandler(copies.orders_changed, on_order_lifecycle(copies.order_changed), gather_ms=GATHER_MS)
    runtime.subscribe([ORDERS_EVENTS], on_orders, batch_records=BULK_RECORDS)
    # The topic also carries the anonymizer's own requests and overdue reports: skipped by type.
    receipts = {ERASURE_COMPLETED: erasures.receipt, CUSTOMER_ERASED: ErasureRequestService(ports).customer_erased}
    runtime.subscribe([ANONYMIZATION_EVENTS], on_receipt(receipts), batch_records=BATCH_RECORDS, types=tuple(receipts))
