"""The dispatcher's erasure SQL (services/webhook_dispatcher/erasure_store.py) and its use case on the real
Postgres, its migrations on a scratch schema: the newest masked snapshot is kept, a waiting request keeps
its latest attempt and is taken once, the order's messages (and only its) are rewritten with statuses
kept, its attempts' excerpts cleared, its published outbox rows deleted (an unsent one refuses); the
per-order lock makes a fan-out from another topic wait for an anonymization in progress."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from services.webhook_dispatcher import erasure_store, store
from services.webhook_dispatcher.domain import MaskedOrder, forwarded_body
from services.webhook_dispatcher.erasure import ErasureService
from shared.db import Connection
from shared.erasure import ErasureRequested
from shared.outbox import UnsentEvents
from shared.services import WEBHOOK_DISPATCHER
from tests.support.scratch import scratch_schema
from tests.support.webhooks import order_event

ERASED, KEPT = 8810, 8820
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
OPTIONS: dict[str, object] = {"description": "", "event_types": [], "rate_limit": None, "ordered": False, "headers": {}}
MASKED = MaskedOrder(5, json.dumps({"id": ERASED, "email": "*", "anonymized": True}).encode())


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], WEBHOOK_DISPATCHER.migrations_dir) as created:
        yield created


def request(order_id: int, attempt: int = 1) -> ErasureRequested:
    return ErasureRequested(
        erasure_id=uuid.UUID(int=order_id),
        order_id=order_id,
        anonymized_sequence=5,
        services=["webhook_dispatcher"],
        attempt=attempt,
        requested_at=NOW,
    )


async def with_messages(conn: Connection, order_id: int) -> None:
    """Two endpoints, two order events each (the first delivered with an excerpt, the second pending)."""
    endpoints = []
    for _ in range(2):
        row = await store.insert_endpoint(conn, {**OPTIONS, "url": "https://example.com/hooks"}, "whsec_x")
        endpoints.append(row["id"])
    events = [order_event(order_id, sequence) for sequence in (1, 2)]
    for event in events:
        await store.insert_messages(conn, endpoints, event, forwarded_body(event.type, event.time, event.body()))
    await conn.execute(
        """WITH first AS (UPDATE messages SET status = 'delivered' WHERE event_id = $1 RETURNING id)
           INSERT INTO attempts (message_id, response_status, latency_ms, response_excerpt)
           SELECT id, 200, 3, 'hello ' || $2 FROM first""",
        events[0].id,
        str(order_id),
    )


async def state(conn: Connection, order_id: int) -> list[tuple[str, bytes]]:
    rows = await conn.fetch("SELECT status, payload FROM messages WHERE order_id = $1 ORDER BY id", str(order_id))
    return [(row["status"], bytes(row["payload"])) for row in rows]


async def test_the_newest_snapshot_is_kept(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await erasure_store.keep_anonymized(conn, str(ERASED), MASKED)
        await erasure_store.keep_anonymized(conn, str(ERASED), MaskedOrder(4, b'{"older": true}'))
        assert await erasure_store.anonymized(conn, str(ERASED)) == MASKED
        newer = MaskedOrder(6, b'{"newer": true}')
        await erasure_store.keep_anonymized(conn, str(ERASED), newer)
        assert await erasure_store.anonymized(conn, str(ERASED)) == newer
        assert await erasure_store.anonymized(conn, str(KEPT)) is None


async def test_a_waiting_request_keeps_its_latest_attempt_and_is_taken_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for attempt in (2, 1):
            await erasure_store.wait_for_snapshot(conn, str(ERASED), request(ERASED, attempt).model_dump(mode="json"))

        taken = await erasure_store.take_waiting(conn, str(ERASED))

        assert taken is not None
        assert ErasureRequested.model_validate(taken) == request(ERASED, 2)
        assert await erasure_store.take_waiting(conn, str(ERASED)) is None


async def test_the_erasure_rewrites_only_the_orders_messages_and_answers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await with_messages(conn, ERASED)
        await with_messages(conn, KEPT)
        kept = await state(conn, KEPT)
        before = await state(conn, ERASED)
        await conn.execute(
            """INSERT INTO outbox (event_id, topic, key, headers, body, sent_at)
               VALUES ($1, 'anonymization.events', $2, '[]'::jsonb, '\\x7b7d', now())""",
            uuid.uuid4(),
            str(ERASED),
        )
        await erasure_store.keep_anonymized(conn, str(ERASED), MASKED)
        erasures = ErasureService()

        async with conn.transaction():
            rows = await erasures.erase_order(conn, request(ERASED))
        await conn.execute("UPDATE outbox SET sent_at = now()")  # the relay published the receipt
        async with conn.transaction():
            again = await erasures.erase_order(conn, request(ERASED, 2))

        assert rows == {"messages": 4, "attempts": 2, "outbox": 1, "outbox_dead_letters": 0}
        after = await state(conn, ERASED)
        assert [status for status, _ in after] == [status for status, _ in before]
        assert [json.loads(payload)["data"]["order"] for _, payload in after] == [json.loads(MASKED.snapshot)] * 4
        assert await state(conn, KEPT) == kept
        excerpts = await conn.fetch(
            "SELECT m.order_id, a.response_excerpt FROM attempts a JOIN messages m ON m.id = a.message_id ORDER BY a.id"
        )
        assert [(row["order_id"], row["response_excerpt"]) for row in excerpts] == [
            (str(ERASED), None),
            (str(ERASED), None),
            (str(KEPT), f"hello {KEPT}"),
            (str(KEPT), f"hello {KEPT}"),
        ]
        # The repeat touched nothing but the first receipt, published by then; its own waits for the relay.
        assert again == {"messages": 0, "attempts": 0, "outbox": 1, "outbox_dead_letters": 0}
        receipts = await conn.fetch("SELECT key, sent_at, body FROM outbox ORDER BY id")
        assert [(row["key"], row["sent_at"], json.loads(row["body"])["attempt"]) for row in receipts] == [
            (str(ERASED), None, 2)
        ]


async def test_an_unsent_receipt_of_the_order_makes_the_erasure_wait(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO outbox (event_id, topic, key, headers, body, created_at)
               VALUES ($1, 'anonymization.events', $2, '[]'::jsonb, '\\x7b7d', now() - interval '1 second')""",
            uuid.uuid4(),
            str(ERASED),
        )
        with pytest.raises(UnsentEvents):
            await erasure_store.erase_outbox(conn, str(ERASED))


async def test_a_fan_out_from_another_topic_waits_for_an_anonymization_in_progress(pool: asyncpg.Pool) -> None:
    erasures = ErasureService()
    body = forwarded_body("cancellation.requested", NOW, b'{"order_id":8810,"description":"call Jane"}')
    async with pool.acquire() as anonymizing, pool.acquire() as fanning_out:
        transaction = anonymizing.transaction()
        await transaction.start()
        await erasure_store.lock_order(anonymizing, str(ERASED))
        await erasure_store.keep_anonymized(anonymizing, str(ERASED), MASKED)

        async def fan_out() -> bytes:
            async with fanning_out.transaction():
                return await erasures.masked_body(fanning_out, str(ERASED), body)

        waiting = asyncio.create_task(fan_out())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await transaction.commit()

        masked = json.loads(await asyncio.wait_for(waiting, 5))
        assert masked["data"]["description"] == "*"
