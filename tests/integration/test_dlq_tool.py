"""deploy.dlq against the real broker and database: dead letters written by the idempotent consumer are
listed and shown, selected by type and time, replayed to their original topic and partition (key and
headers kept, the dead-lettering's headers left out, a marker added) at most once, also when two
replays run at once; a dry run replays nothing."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from deploy.dlq.letters import DlqError, read_dead_letter, read_dead_letters
from deploy.dlq.replay import Selection, replay
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.events import Event
from shared.kafka import EventProducer
from shared.topics import DLQ_HEADER_PREFIX, DLQ_REPLAYED_FROM, dlq
from tests.integration.test_idempotent_consumer import Record, consumer
from tests.support.kafka import header, read_records
from tests.support.orders import order_created


async def refuse(conn: Connection, event: Event) -> None:
    raise Unprocessable(f"there is no order {event.subject}")


@pytest.fixture
async def dead_letters(scratch_pool: asyncpg.Pool, producer: EventProducer, scratch_topic: str) -> list[Event]:
    """Three events dead-lettered by the consumer: two order.created (partitions 0 and 1), one order.updated."""
    updated = order_created(73)
    events = [order_created(71), order_created(72), Event.new("order.updated", "tests", "73", updated.data, sequence=2)]
    dead_lettering = consumer(scratch_pool, producer)
    for partition, event in zip((0, 1, 1), events, strict=True):
        record = replace(Record.of(event, scratch_topic, 40 + partition), partition=partition)
        await dead_lettering.process(record, refuse)
    return events


async def test_list_and_show_name_each_dead_letter_by_partition_and_offset(
    stack: tuple[str, str], scratch_topic: str, dead_letters: list[Event]
) -> None:
    letters = await read_dead_letters(stack[1], dlq(scratch_topic))

    # In partition and offset order, each named by both; the dead-letter topic is keyed as its source.
    assert [(letter.partition, letter.offset) for letter in letters] == sorted(
        (letter.partition, letter.offset) for letter in letters
    )
    by_id = {letter.header("ce_id"): letter for letter in letters}
    assert set(by_id) == {str(event.id) for event in dead_letters}
    updated = by_id[str(dead_letters[2].id)]
    assert (updated.event_type, updated.key, updated.original_partition) == ("order.updated", b"73", 1)
    assert "Unprocessable: there is no order 73" in updated.summary()
    shown = await read_dead_letter(stack[1], dlq(scratch_topic), updated.partition, updated.offset)
    assert shown.header("ce_id") == str(dead_letters[2].id)
    details = shown.details()
    assert "header dlq_error: Unprocessable: there is no order 73" in details
    assert '"order_id": 73' in details  # the value, as JSON
    with pytest.raises(DlqError, match="no dead letter at 1:5"):
        await read_dead_letter(stack[1], dlq(scratch_topic), 1, 5)  # three letters: never that far
    with pytest.raises(DlqError, match="no partition 7"):
        await read_dead_letters(stack[1], dlq(scratch_topic), 7)


async def test_a_dry_run_and_the_filters_replay_nothing_they_do_not_select(
    stack: tuple[str, str], scratch_topic: str, dead_letters: list[Event], admin_db: asyncpg.Connection
) -> None:
    dry = await replay(stack[1], admin_db, dlq(scratch_topic), Selection("order.created"), dry_run=True)
    assert (sorted(letter.key or b"" for letter in dry.replayed), dry.filtered) == ([b"71", b"72"], 1)
    later = await replay(stack[1], admin_db, dlq(scratch_topic), Selection(since=datetime.now(UTC) + timedelta(1)))
    assert (later.replayed, later.filtered) == ([], 3)

    assert await read_dead_letters(stack[1], scratch_topic) == []  # nothing went back

    replayed = await replay(stack[1], admin_db, dlq(scratch_topic), Selection("order.created"))
    assert (len(replayed.replayed), replayed.already_replayed, replayed.filtered) == (2, 0, 1)


async def test_a_replay_puts_each_dead_letter_back_where_it_came_from_once(
    stack: tuple[str, str], scratch_topic: str, dead_letters: list[Event], admin_db: asyncpg.Connection
) -> None:
    first = await replay(stack[1], admin_db, dlq(scratch_topic), Selection())
    again = await replay(stack[1], admin_db, dlq(scratch_topic), Selection())

    assert (len(first.replayed), first.already_replayed) == (3, 0)
    assert (again.replayed, again.already_replayed) == ([], 3)
    copies = await read_records(stack[1], scratch_topic, lambda _: True, expect=3)
    assert len(copies) == 3  # once each, whatever the second replay did
    by_id = {header(copy, "ce_id"): copy for copy in copies}
    letters = {letter.header("ce_id"): letter for letter in await read_dead_letters(stack[1], dlq(scratch_topic))}
    for partition, event in zip((0, 1, 1), dead_letters, strict=True):
        copy, letter = by_id[str(event.id)], letters[str(event.id)]
        assert (copy.partition, copy.key, copy.value) == (partition, event.key, event.body())
        names = [name for name, _ in copy.headers]
        assert [(name, value) for name, value in copy.headers if name != DLQ_REPLAYED_FROM] == event.headers()
        assert not [name for name in names if name.startswith(DLQ_HEADER_PREFIX) and name != DLQ_REPLAYED_FROM]
        assert header(copy, DLQ_REPLAYED_FROM) == f"{dlq(scratch_topic)}/{letter.partition}:{letter.offset}"


async def test_two_replays_at_once_replay_each_dead_letter_once(
    stack: tuple[str, str], scratch_topic: str, dead_letters: list[Event]
) -> None:
    conns = [await asyncpg.connect(stack[0]) for _ in range(2)]
    try:
        both = await asyncio.gather(*(replay(stack[1], conn, dlq(scratch_topic), Selection()) for conn in conns))
    finally:
        for conn in conns:
            await conn.close()

    assert sum(len(summary.replayed) for summary in both) == 3
    assert sum(summary.already_replayed for summary in both) == 3
    copies = await read_records(stack[1], scratch_topic, lambda _: True, expect=3)
    assert sorted(header(copy, "ce_id") or "" for copy in copies) == sorted(str(event.id) for event in dead_letters)
