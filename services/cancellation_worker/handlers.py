"""The cancellation worker's Kafka subscribers."""

from services.cancellation_worker import store
from shared.order_copies import subscribe_to_orders
from shared.runtime import Runtime
from shared.settings import ServiceSettings


def subscribe(runtime: Runtime[ServiceSettings]) -> None:
    subscribe_to_orders(runtime, store.upsert_order)
