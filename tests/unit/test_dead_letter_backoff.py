"""A dead-letter write that fails is retried after a growing pause, never in a tight loop."""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from shared import consumer as consumer_module
from shared.consumer import IdempotentConsumer
from shared.kafka import OutgoingRecord


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
    key = b"1"
    value = b"not an event"
    headers: tuple[tuple[str, bytes], ...] = ()


async def test_each_failed_dead_letter_write_waits_longer_before_the_message_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []

    async def record_pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(consumer_module, "asyncio", SimpleNamespace(sleep=record_pause))
    producer = FlakyProducer(failures=7)
    consumer = IdempotentConsumer(pool=Any, producer=producer, service="tests")  # type: ignore[arg-type]

    for _ in range(7):  # each time the message is redelivered, the write fails again
        with pytest.raises(KafkaConnectionError):
            await consumer.process(Record(), handler=None)  # type: ignore[arg-type]
    await consumer.process(Record(), handler=None)  # type: ignore[arg-type]

    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert [record.topic for record in producer.written] == ["orders.events.dlq"]
