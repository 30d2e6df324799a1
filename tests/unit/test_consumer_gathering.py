"""Which subscriptions let their batches gather (the consumers that keep copies of orders) and which are
answered as soon as a record is there (everything a flow waits on, the webhook fan-out first)."""

from typing import Any

from faststream.kafka import KafkaBroker

from services.anonymizer import handlers as anonymizer
from services.anonymizer.settings import AnonymizerSettings
from services.cancellation_worker import handlers as cancellation_worker
from services.cancellation_worker.settings import CancellationSettings
from services.webhook_dispatcher import handlers as webhook_dispatcher
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.consumer_handlers import GATHER_MS
from shared.runtime import GATHER_BYTES, Runtime
from shared.services import ANONYMIZER, CANCELLATION_WORKER, WEBHOOK_DISPATCHER, ServiceSpec
from shared.topics import ORDERS_EVENTS

FETCH = ("fetch_min_bytes", "fetch_max_wait_ms")


def fetch_settings(spec: ServiceSpec, settings: Any, subscribe: Any) -> dict[tuple[str, ...], tuple[int, int]]:
    """What each of the service's subscriptions (by its topics) asks the broker to wait for per fetch."""
    broker = KafkaBroker()
    unused: Any = None  # subscribing touches neither the pool, the producer nor the consumer
    subscribe(Runtime(spec, settings.load(spec), unused, unused, broker, unused))
    subscribers: list[Any] = list(broker.subscribers)  # FastStream's Kafka subscribers
    return {
        tuple(subscriber.topic_names): tuple(subscriber._connection_args[name] for name in FETCH)
        for subscriber in subscribers
    }


def test_the_order_copies_of_the_cancellation_worker_and_the_anonymizer_gather() -> None:
    gathering = (GATHER_BYTES, GATHER_MS)
    worker = fetch_settings(CANCELLATION_WORKER, CancellationSettings, cancellation_worker.subscribe)
    copies = fetch_settings(ANONYMIZER, AnonymizerSettings, anonymizer.subscribe)

    assert [fetch for topics, fetch in worker.items() if ORDERS_EVENTS in topics] == [gathering]
    assert [fetch for topics, fetch in copies.items() if ORDERS_EVENTS in topics] == [gathering]
    # Their other subscriptions (reference facts, erasure requests and receipts) do not.
    others = [fetch for found in (worker, copies) for topics, fetch in found.items() if ORDERS_EVENTS not in topics]
    assert others
    assert all(min_bytes == 1 for min_bytes, _ in others)


def test_the_webhook_fan_out_is_answered_as_soon_as_an_event_is_there() -> None:
    def subscribe(runtime: Any) -> None:
        webhook_dispatcher.subscribe(runtime)

    fetches = fetch_settings(WEBHOOK_DISPATCHER, DispatcherSettings, subscribe)

    assert fetches
    assert all(min_bytes == 1 for min_bytes, _ in fetches.values())
