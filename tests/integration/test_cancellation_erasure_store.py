"""The cancellation worker's erasure SQL (services/cancellation_worker/store/erasure.py) on the real
Postgres, its migrations on a scratch schema: the order's bank accounts go, its requests' descriptions
and IBAN endings are masked, its emails masked (a pending one failed), its published outbox rows
deleted; another order's all stay; a repeat touches nothing."""

import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.cancellation_worker import store
from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.domain.requests import requests_from
from shared.cancellations import BankAccount, CancellationSubmitted
from shared.db import Connection
from shared.services import CANCELLATION_WORKER
from tests.support.cancellations import IBAN, submission
from tests.support.scratch import scratch_schema

ERASED, KEPT = 7370, 7380
NOTE = "Call Jane on +49 170 1234567"


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], CANCELLATION_WORKER.migrations_dir) as created:
        yield created


async def with_request_email_and_command(conn: Connection, order_id: int, first_request_id: int) -> None:
    event = submission(order_id, (order_id * 10 + 1, 1, "refund"), iban=IBAN, first_request_id=first_request_id)
    assert isinstance(event.data, CancellationSubmitted)
    requests = [dataclasses.replace(made, description=NOTE) for made in requests_from(event.data)]
    assert await store.insert_requests(conn, requests, event.id, BankAccount(iban=IBAN, holder_name="Jane Doe"))
    for index, status in enumerate(("pending", "done")):
        notice = Notice(
            f"<{order_id}-{index}@x>", "refund.succeeded", order_id, "jane@example.com", "Refund", "Hi Jane"
        )
        assert await store.insert_notification(conn, notice)
        await conn.execute("UPDATE notifications SET status = $2 WHERE message_id = $1", notice.message_id, status)
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, headers, body, sent_at)
           VALUES ($1, 'payments.commands', $2, '[]'::jsonb, $3, now())""",
        uuid.uuid4(),
        str(order_id),
        IBAN.encode(),
    )


async def test_the_orders_personal_data_goes_and_another_orders_stays(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await with_request_email_and_command(conn, ERASED, 500)
        await with_request_email_and_command(conn, KEPT, 600)

        async with conn.transaction():
            rows = await store.erase_order(conn, ERASED)

        assert rows == {
            "bank_accounts": 1,
            "cancellation_requests": 1,
            "notifications": 2,
            "outbox": 1,
            "outbox_dead_letters": 0,
        }
        assert [tuple(row) for row in await conn.fetch("SELECT order_id FROM bank_accounts")] == [(KEPT,)]
        described = await conn.fetch(
            "SELECT order_id, description, iban_last4 FROM cancellation_requests ORDER BY order_id"
        )
        assert [tuple(row) for row in described] == [(ERASED, "*", None), (KEPT, NOTE, IBAN[-4:])]
        emails = await conn.fetch(
            "SELECT order_id, recipient, subject, body, status, last_error FROM notifications ORDER BY id"
        )
        assert [tuple(row) for row in emails] == [
            (ERASED, "*", "*", "*", "failed", "erased"),
            (ERASED, "*", "*", "*", "done", "erased"),
            (KEPT, "jane@example.com", "Refund", "Hi Jane", "pending", None),
            (KEPT, "jane@example.com", "Refund", "Hi Jane", "done", None),
        ]
        assert [tuple(row) for row in await conn.fetch("SELECT key FROM outbox")] == [(str(KEPT),)]

        again = await store.erase_order(conn, ERASED)
        assert set(again.values()) == {0}
