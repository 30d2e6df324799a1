"""The consumers' group membership settings (session timeout, heartbeat) and what the subscribers get."""

from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from shared.runtime import Runtime
from shared.services import CANCELLATION_WORKER
from shared.settings import ServiceSettings

MEMBERSHIP = ("session_timeout_ms", "heartbeat_interval_ms", "group_instance_id")


def test_consumers_default_to_a_six_second_session_and_one_second_heartbeats() -> None:
    settings = ServiceSettings.load(CANCELLATION_WORKER)

    assert (settings.consumer_session_timeout_seconds, settings.consumer_heartbeat_seconds) == (6.0, 1.0)


def test_a_heartbeat_over_a_third_of_the_session_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANCELLATION_CONSUMER_SESSION_TIMEOUT_SECONDS", "6")
    monkeypatch.setenv("CANCELLATION_CONSUMER_HEARTBEAT_SECONDS", "3")

    with pytest.raises(ValidationError, match="consumer_heartbeat_seconds must be at most a third"):
        ServiceSettings.load(CANCELLATION_WORKER)


def test_a_longer_session_takes_longer_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANCELLATION_CONSUMER_SESSION_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("CANCELLATION_CONSUMER_HEARTBEAT_SECONDS", "10")

    assert ServiceSettings.load(CANCELLATION_WORKER).consumer_heartbeat_seconds == 10


def test_every_subscription_joins_its_group_with_the_services_session_and_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CANCELLATION_CONSUMER_SESSION_TIMEOUT_SECONDS", "9")
    monkeypatch.setenv("CANCELLATION_CONSUMER_HEARTBEAT_SECONDS", "2.5")
    settings = ServiceSettings.load(CANCELLATION_WORKER)
    broker = KafkaBroker()
    unused: Any = None  # subscribing touches neither the pool, the producer nor the consumer
    runtime = Runtime(CANCELLATION_WORKER, settings, unused, unused, broker, unused)

    async def handler(conn: Any, event: Any) -> None: ...

    runtime.subscribe(["orders.events"], handler)
    runtime.subscribe(["orders.ingest"], handler, batch_records=10)

    # What each subscriber gives its aiokafka consumer: dynamic membership (no group.instance.id).
    subscribers: list[Any] = list(broker.subscribers)  # FastStream's Kafka subscribers
    joined = [
        (subscriber.group_id, {name: subscriber._connection_args[name] for name in MEMBERSHIP})
        for subscriber in subscribers
    ]
    expected = {"session_timeout_ms": 9000, "heartbeat_interval_ms": 2500, "group_instance_id": None}
    assert joined == [("cancellation_worker", expected), ("cancellation_worker", expected)]
