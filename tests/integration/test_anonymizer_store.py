"""The anonymizer's SQL against real Postgres, on a scratch schema with its migrations: the copy keeps
the newest subject as a hash, one erasure per order (a waiting one is taken over), one receipt per
service, due records are locked for one reporter, and requests follow their orders' states."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.anonymizer import store
from services.anonymizer.domain import KnownOrder, OrderErasure, Receipt, completed, next_attempt, opened
from shared.services import ANONYMIZER
from tests.support.orders import order_created
from tests.support.scratch import scratch_schema

ORDER = 7330
NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
MINUTE = timedelta(seconds=60)
SERVICES = ("order_api", "cancellation_worker", "anonymizer")


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], ANONYMIZER.migrations_dir) as created:
        yield created


def erasure(order_id: int = ORDER) -> OrderErasure:
    return opened(order_id, 4, 9000000012, SERVICES, now=NOW, deadline=MINUTE)


def answer(of: OrderErasure, service: str, **rows: int) -> Receipt:
    return Receipt(of.erasure_id, of.order_id, service, rows, of.attempt, NOW)


async def test_the_copy_keeps_the_newest_subject_and_forgetting_counts_what_it_erased(pool: asyncpg.Pool) -> None:
    newer = KnownOrder(ORDER, 2, b"\x01" * 32, 12, anonymized=False)
    async with pool.acquire() as conn:
        await store.record_order(conn, order_created(ORDER, 2), newer)
        await store.record_order(conn, order_created(ORDER, 1), replace(newer, sequence=1, customer_id=11))
        row = await conn.fetchrow("SELECT * FROM known_orders WHERE order_id = $1", ORDER)
        assert row is not None
        assert (row["email_hash"], row["customer_id"], row["last_sequence"]) == (b"\x01" * 32, 12, 2)
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE order_id = $1", ORDER) == 2

        assert await store.forget_order(conn, ORDER) == 1
        assert await store.forget_order(conn, ORDER) == 0
        assert await store.forget_order(conn, ORDER + 1) == 0
        row = await conn.fetchrow("SELECT * FROM known_orders WHERE order_id = $1", ORDER)
        assert row is not None
        assert (row["email_hash"], row["customer_id"], row["anonymized"]) == (None, None, True)
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = 'known_orders'"
        )
        assert "email" not in {c["column_name"] for c in columns}


async def test_one_erasure_per_order_and_a_waiting_one_is_taken_over(pool: asyncpg.Pool) -> None:
    first = erasure()
    async with pool.acquire() as conn:
        assert await store.open_erasure(conn, first) == first
        assert await store.open_erasure(conn, erasure()) is None
        assert await store.fetch_erasure(conn, first.erasure_id, lock=True) == first

        waiting = replace(erasure(ORDER + 1), state="waiting", anonymized_sequence=None, requested_at=None)
        waiting = replace(waiting, deadline_at=None, services=())
        assert await store.open_erasure(conn, waiting) == waiting
        taken = await store.open_erasure(conn, erasure(ORDER + 1))
        assert taken is not None
        assert taken.erasure_id == waiting.erasure_id
        assert (taken.state, taken.services, taken.anonymized_sequence) == ("erasing", SERVICES, 4)


async def test_one_receipt_per_service_with_its_rows(pool: asyncpg.Pool) -> None:
    first = erasure()
    async with pool.acquire() as conn:
        await store.open_erasure(conn, first)
        assert await store.insert_receipt(conn, answer(first, "order_api", idempotency_keys=2, outbox=5))
        assert not await store.insert_receipt(conn, answer(first, "order_api"))
        assert await store.insert_receipt(conn, answer(first, "anonymizer"))
        receipts = await store.receipts_of(conn, first.erasure_id)
        assert [(r.service, r.rows) for r in receipts] == [
            ("anonymizer", {}),
            ("order_api", {"idempotency_keys": 2, "outbox": 5}),
        ]
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.insert_receipt(conn, replace(answer(first, "order_api"), erasure_id=uuid.uuid4()))


async def test_due_records_are_locked_for_one_reporter_and_saved_progress_moves_the_deadline(
    pool: asyncpg.Pool,
) -> None:
    late, done = erasure(), erasure(ORDER + 1)
    async with pool.acquire() as conn:
        await store.open_erasure(conn, late)
        await store.open_erasure(conn, done)
        await store.save_erasure(conn, completed(done, NOW))
        assert await store.due_erasures(conn, NOW + MINUTE - timedelta(seconds=1), 10) == []

    async with pool.acquire() as first, pool.acquire() as second, first.transaction():
        assert await store.due_erasures(first, NOW + MINUTE, 10) == [late]
        async with second.transaction():
            assert await store.due_erasures(second, NOW + MINUTE, 10) == []
        again = next_attempt(late, NOW + MINUTE, MINUTE)
        await store.save_erasure(first, again)

    async with pool.acquire() as conn:
        assert await store.fetch_erasure(conn, late.erasure_id) == again
        assert await store.due_erasures(conn, NOW + MINUTE, 10) == []
        assert await store.due_erasures(conn, NOW + 2 * MINUTE, 10) == [again]


async def test_requests_follow_their_orders_states(pool: asyncpg.Pool) -> None:
    one, other = erasure(), erasure(ORDER + 1)
    async with pool.acquire() as conn:
        for each in (one, other):
            await store.open_erasure(conn, each)
            await store.ensure_order_request(conn, each, "order", NOW)
            await store.ensure_order_request(conn, each, "order", NOW)  # once per order
        customer = uuid.uuid4()
        await conn.execute(
            "INSERT INTO erasure_requests (id, kind, status, created_at) VALUES ($1, 'customer', 'waiting', $2)",
            customer,
            NOW,
        )
        await conn.executemany(
            "INSERT INTO erasure_request_orders (request_id, order_id) VALUES ($1, $2)",
            [(customer, ORDER), (customer, ORDER + 1), (customer, ORDER + 2)],
        )

        async def statuses() -> dict[uuid.UUID, tuple[str, datetime | None]]:
            rows = await conn.fetch("SELECT id, status, completed_at FROM erasure_requests")
            return {row["id"]: (row["status"], row["completed_at"]) for row in rows}

        await store.refresh_requests(conn, ORDER, NOW)
        assert await statuses() == {
            one.erasure_id: ("erasing", None),
            other.erasure_id: ("erasing", None),
            customer: ("erasing", None),
        }
        await store.save_erasure(conn, next_attempt(one, NOW + MINUTE, MINUTE))
        await store.refresh_requests(conn, ORDER, NOW + MINUTE)
        assert (await statuses())[customer] == ("overdue", None)
        await store.save_erasure(conn, completed(one, NOW + MINUTE))
        await store.save_erasure(conn, completed(other, NOW + MINUTE))
        await store.refresh_requests(conn, ORDER, NOW + MINUTE)
        assert await statuses() == {
            one.erasure_id: ("complete", NOW + MINUTE),
            other.erasure_id: ("erasing", None),  # not refreshed: only the requests holding ORDER are
            customer: ("waiting", None),  # ORDER + 2 has no erasure yet
        }
