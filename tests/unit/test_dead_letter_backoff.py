"""A dead-letter write that fails is retried after a growing pause, never in a tight loop."""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import cast

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from shared import consumer as consumer_module
from shared.consumer import IdempotentConsumer
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord


class FlakyProducer:
    """Refuses the first `failures` writes, as a broker that is away does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.written: list[OutgoingRecord] = []

    async def send_all(self, records: Sequence[OutgoingRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker away")
        self.written.extend(records)


class Record:
    topic = "orders.events"
    partition = 0
    offset = 7
    key: bytes | None = b"1"
    value: bytes | None = b"not an event"
    headers: tuple[tuple[str, bytes], ...] = ()


async def never_called(conn: Connection, event: Event) -> None:
    raise AssertionError("an invalid record reaches no handler")


async def test_each_failed_dead_letter_write_waits_longer_before_the_message_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []

    async def record_pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(consumer_module, "asyncio", SimpleNamespace(sleep=record_pause))
    producer = FlakyProducer(failures=7)
    # An invalid record goes to the dead-letter topic before the database or a handler is needed.
    consumer = IdempotentConsumer(cast(asyncpg.Pool, None), cast(EventProducer, producer), "tests")

    for _ in range(7):  # each time the message is redelivered, the write fails again
        with pytest.raises(KafkaConnectionError):
            await consumer.process(Record(), never_called)
    await consumer.process(Record(), never_called)

    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert [record.topic for record in producer.written] == ["orders.events.dlq"]
