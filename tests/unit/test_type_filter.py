"""A subscription that names its event types skips the others by their `ce_type` header: no parsing,
no database, no dead letter; a record without `ce_type` is still judged (and dead-lettered)."""

from collections.abc import Sequence
from typing import cast

import asyncpg

from shared.consumer import IdempotentConsumer, TypeFilter
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord


class Producer:
    def __init__(self) -> None:
        self.written: list[OutgoingRecord] = []

    async def send_all(self, records: Sequence[OutgoingRecord]) -> None:
        self.written.extend(records)


class Record:
    topic = "orders.ingest"
    partition = 0
    offset = 3
    key: bytes | None = b"1"
    value: bytes | None = b"not even JSON"

    def __init__(self, headers: Sequence[tuple[str, bytes]]) -> None:
        self.headers = list(headers)


async def never_called(conn: Connection, event: Event) -> None:
    raise AssertionError("a skipped record reaches no handler")


def test_the_filter_judges_by_ce_type_alone() -> None:
    only = TypeFilter(["cancellation.reason.upserted"])
    assert only.skips(Record([("ce_id", b"x"), ("ce_type", b"payment.refunded")]))
    assert only.skips(Record([("ce_type", b"\xff\xfe")]))  # not one of ours, whatever it is
    assert not only.skips(Record([("ce_type", b"cancellation.reason.upserted")]))
    assert not only.skips(Record([("ce_id", b"x")]))  # no type: decoding judges it


async def test_a_record_of_another_type_is_skipped_before_decoding_or_the_database() -> None:
    producer = Producer()
    # No pool: a skipped record needs none.
    consumer = IdempotentConsumer(cast(asyncpg.Pool, None), cast(EventProducer, producer), "tests")
    only = TypeFilter(["cancellation.reason.upserted", "shipping_company.upserted"])

    await consumer.process(Record([("ce_type", b"payment.refunded")]), never_called, only=only)
    assert producer.written == []  # malformed as it is, it is not this subscription's to dead-letter

    await consumer.process(Record([("ce_specversion", b"1.0")]), never_called, only=only)
    assert [record.topic for record in producer.written] == ["orders.ingest.dlq"]
