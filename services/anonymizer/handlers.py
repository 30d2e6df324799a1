"""The anonymizer's Kafka subscribers."""

from services.anonymizer import store
from shared.order_copies import subscribe_to_orders
from shared.runtime import Runtime
from shared.settings import ServiceSettings


def subscribe(runtime: Runtime[ServiceSettings]) -> None:
    subscribe_to_orders(runtime, store.record_order_fact)
