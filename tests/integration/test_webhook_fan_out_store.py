"""The fan-out's filters against real Postgres (migration 0009, store.insert_fanned): every change to what
the fan-out reads of the endpoints counts their version up, delivery bookkeeping does not, and messages
chosen by filters of an older version are not written, nor the tracking rows written with them."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import NamedTuple

import asyncpg
import pytest

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import Answer, DeliveredAttempt
from shared.events import Event
from shared.services import WEBHOOK_DISPATCHER
from shared.tracing import NO_TRACE
from shared.tracking import Tracking
from tests.support.polling import eventually
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


async def test_the_filters_version_counts_every_change_to_them_and_nothing_else(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:

        async def version() -> int:
            return (await store.enabled_endpoint_filters(conn)).version

        versions = [await version()]
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        endpoint_id: uuid.UUID = row["id"]
        versions.append(await version())
        await store.update_endpoint(conn, endpoint_id, {"event_types": ["order.*"]})
        versions.append(await version())
        await store.disable_endpoint(conn, endpoint_id, "manual")
        versions.append(await version())
        await store.enable_endpoint(conn, endpoint_id)
        versions.append(await version())
        assert len(set(versions)) == 5  # created, filter changed, disabled, enabled: each counted

        # Bookkeeping: a description, a failing streak begun and ended by a delivery.
        await store.update_endpoint(conn, endpoint_id, {"description": "ours"})
        await store.endpoint_failed(conn, endpoint_id, timedelta(hours=1))
        written = await store.insert_messages(conn, [endpoint_id], order_event(1, 1), b"{}", leased=[endpoint_id])
        [delivery] = written.leased
        await store.record_deliveries(conn, [DeliveredAttempt(delivery, Answer(204), 3)])
        assert await version() == versions[-1]

        await store.delete_endpoint(conn, endpoint_id)
        assert await version() != versions[-1]


async def test_messages_chosen_by_filters_of_an_older_version_are_not_written(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        read = await store.enabled_endpoint_filters(conn)
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        event = order_event(2, 1)
        fanned = [store.Fanned(event, b"{}", NO_TRACE, [row["id"]])]

        assert await store.insert_fanned(conn, fanned, timedelta(0), read.version) is None
        assert await conn.fetchval("SELECT count(*) FROM messages") == 0

        current = await store.enabled_endpoint_filters(conn)
        written = await store.insert_fanned(conn, fanned, timedelta(0), current.version)
        assert written is not None
        assert written.inserted == 1


async def test_a_fan_out_with_its_tracking_rows_writes_both_or_neither(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        stale = await store.enabled_endpoint_filters(conn)
        await store.update_endpoint(conn, row["id"], {"event_types": ["order.*"]})
        current = await store.enabled_endpoint_filters(conn)
        events = [order_event(3, 1), order_event(4, 1)]
        fanned = [store.Fanned(event, b"{}", NO_TRACE, [row["id"]], leased=[row["id"]]) for event in events]
        tracking = Tracking([Position("orders.events", 0, offset) for offset in (7, 8)], events)

        async def counts() -> tuple[int, int]:
            return await conn.fetchval("SELECT count(*) FROM messages"), await conn.fetchval(
                "SELECT count(*) FROM processed_events"
            )

        # Chosen by filters since changed: neither the messages nor the events' tracking rows.
        assert await store.insert_fanned(conn, fanned, timedelta(seconds=30), stale.version, tracking) is None
        assert await counts() == (0, 0)

        written = await store.insert_fanned(conn, fanned, timedelta(seconds=30), current.version, tracking)
        assert written is not None
        assert (written.inserted, len(written.leased)) == (2, 2)
        assert written.recorded == {event.id for event in events}
        assert await counts() == (2, 2)

        # The same events again (redelivered): recorded before, so no message either.
        again = await store.insert_fanned(conn, fanned, timedelta(seconds=30), current.version, tracking)
        assert again is not None
        assert (again.inserted, again.recorded) == (0, frozenset())
        assert await counts() == (2, 2)


async def test_a_tracked_fan_out_notifies_only_when_it_left_messages_to_the_claim(pool: asyncpg.Pool) -> None:
    heard: list[str] = []

    def hear(*notification: object) -> None:
        heard.append(str(notification[3]))

    async with pool.acquire() as conn, pool.acquire() as listener:
        await listener.add_listener(store.MESSAGES_CHANNEL, hear)
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        filters = await store.enabled_endpoint_filters(conn)
        leased, left = order_event(5, 1), order_event(6, 1)
        lease = timedelta(seconds=30)

        def tracked(event: Event, offset: int) -> Tracking:
            return Tracking([Position("orders.events", 0, offset)], [event])

        all_leased = await store.insert_fanned(
            conn, [store.Fanned(leased, b"{}", NO_TRACE, [row["id"]], [row["id"]])], lease, filters.version,
            tracked(leased, 1),
        )  # fmt: skip
        to_claim = await store.insert_fanned(
            conn, [store.Fanned(left, b"{}", NO_TRACE, [row["id"]])], lease, filters.version, tracked(left, 2)
        )
        assert all_leased is not None
        assert to_claim is not None

        async def payloads() -> list[str]:
            return heard

        await eventually(payloads, lambda payloads: to_claim.transaction in payloads, timeout=10)
        # The leased one is this instance's to hand over, which it does as the statement returns.
        assert all_leased.transaction not in {payload.removesuffix(store.ALL_LEASED) for payload in heard}
        await listener.remove_listener(store.MESSAGES_CHANNEL, hear)


class Position(NamedTuple):
    topic: str
    partition: int
    offset: int
