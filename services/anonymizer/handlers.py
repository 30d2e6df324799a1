"""The anonymizer's Kafka subscribers: order_api's lifecycle events (its copy, and `order.anonymized`
opening an erasure) and the services' receipts on anonymization.events (only those)."""

from services.anonymizer.service import postgres_ports
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.orders import OrderCopyService
from services.anonymizer.settings import AnonymizerSettings
from shared.consumer import BATCH_RECORDS
from shared.erasure import ERASURE_COMPLETED
from shared.order_copies import on_order_lifecycle
from shared.runtime import Runtime
from shared.topics import ANONYMIZATION_EVENTS, ORDERS_EVENTS


def subscribe(runtime: Runtime[AnonymizerSettings]) -> None:
    ports = postgres_ports(runtime.pool, runtime.settings)
    erasures = ErasureService(ports)
    # Both a batch per poll (many records in one transaction, the offsets committed once per batch).
    copies = OrderCopyService(ports, erasures)
    runtime.subscribe([ORDERS_EVENTS], on_order_lifecycle(copies.order_changed), batch_records=BATCH_RECORDS)
    # The topic also carries the anonymizer's own requests and overdue reports: skipped by type.
    runtime.subscribe([ANONYMIZATION_EVENTS], erasures.receipt, batch_records=BATCH_RECORDS, types=(ERASURE_COMPLETED,))
