"""The anonymizer's SQL against real Postgres, on a scratch schema with its migrations: the copy keeps
the newest subject as a hash, one erasure per order (a waiting one is taken over), one receipt per
service, due records are locked for one reporter, and requests follow their orders' states and their
customer records' (order_api's `customer.erased` recorded once per request)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.anonymizer import store
from services.anonymizer.domain import (
    CustomerErasure,
    ErasureRequest,
    ErasureState,
    KnownOrder,
    OrderErasure,
    Receipt,
    RequestQuery,
    completed,
    next_attempt,
    opened,
    waiting,
)
from shared.services import ANONYMIZER
from tests.support.orders import order_created
from tests.support.scratch import scratch_schema

ORDER = 7330
NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
MINUTE = timedelta(seconds=60)
SERVICES = ("order_api", "cancellation_worker", "anonymizer")
STATUSES: tuple[ErasureState, ...] = ("complete", "waiting", "complete", "complete")


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], ANONYMIZER.migrations_dir) as created:
        yield created


def erasure(order_id: int = ORDER) -> OrderErasure:
    return opened(order_id, 4, 9000000012, SERVICES, now=NOW, deadline=MINUTE)


def answer(of: OrderErasure, service: str, **rows: int) -> Receipt:
    return Receipt(of.erasure_id, of.order_id, service, rows, of.attempt, NOW)


async def test_the_copy_keeps_the_newest_subject_and_forgetting_counts_what_it_erased(pool: asyncpg.Pool) -> None:
    newer = KnownOrder(ORDER, 2, b"\x01" * 32, 12, anonymized=False, eligible_since=None)
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
        kept = await store.insert_receipt(conn, answer(first, "anonymizer"))  # with those kept before
        assert kept is not None
        assert sorted(r.service for r in kept) == ["anonymizer", "order_api"]
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


async def test_two_instances_completing_a_requests_last_orders_at_once_complete_it(pool: asyncpg.Pool) -> None:
    one, other = erasure(), erasure(ORDER + 1)
    request = uuid.uuid4()
    async with pool.acquire() as conn:
        for each in (one, other):
            await store.open_erasure(conn, each)
        await conn.execute(
            "INSERT INTO erasure_requests (id, kind, status, created_at) VALUES ($1, 'customer', 'erasing', $2)",
            request,
            NOW,
        )
        await conn.executemany(
            "INSERT INTO erasure_request_orders (request_id, order_id) VALUES ($1, $2)",
            [(request, ORDER), (request, ORDER + 1)],
        )
    async with pool.acquire() as first, pool.acquire() as second:
        first_done = first.transaction()
        await first_done.start()
        await store.save_erasure(first, completed(one, NOW))
        await store.refresh_requests(first, ORDER, NOW)  # sees the other order unfinished
        async with second.transaction():
            await store.save_erasure(second, completed(other, NOW))
            # The second instance's refresh waits for the first to commit, then sees both orders done.
            refreshing = asyncio.create_task(store.refresh_requests(second, ORDER + 1, NOW))
            await asyncio.sleep(0.2)
            assert not refreshing.done()
            await first_done.commit()
            await refreshing
        status = await first.fetchval("SELECT status FROM erasure_requests WHERE id = $1", request)
    assert status == "complete"


async def test_a_persons_orders_are_found_by_email_hash_or_customer_id_never_once_anonymized(
    pool: asyncpg.Pool,
) -> None:
    ada, bob = b"\x0a" * 32, b"\x0b" * 32
    async with pool.acquire() as conn:
        for order_id, hashed, customer in [(ORDER, ada, None), (ORDER + 1, ada, 12), (ORDER + 2, bob, 12)]:
            await store.record_order(
                conn, order_created(order_id, 1), KnownOrder(order_id, 1, hashed, customer, False, None)
            )
        await store.record_order(conn, order_created(ORDER + 3, 1), KnownOrder(ORDER + 3, 1, ada, 12, True, None))

        assert await store.orders_of_person(conn, email_hash=ada, customer_ids=[]) == [ORDER, ORDER + 1]
        assert await store.orders_of_person(conn, email_hash=None, customer_ids=[12]) == [ORDER + 1, ORDER + 2]
        assert await store.orders_of_person(conn, email_hash=ada, customer_ids=[12, 99]) == [
            ORDER,
            ORDER + 1,
            ORDER + 2,
        ]
        assert await store.orders_of_person(conn, email_hash=b"\x0c" * 32, customer_ids=[]) == []
        # The customer records of those orders (once each), for customer.erase_requested.
        assert await store.customers_of_person(conn, email_hash=ada, customer_id=None) == [12]
        assert await store.customers_of_person(conn, email_hash=bob, customer_id=99) == [12]
        assert await store.customers_of_person(conn, email_hash=None, customer_id=99) == []


async def test_a_waiting_erasure_is_recorded_once_and_an_open_one_is_kept(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        first = await store.wait_for(conn, waiting(ORDER, 12))
        assert (first.state, first.services, first.anonymized_sequence, first.customer_id) == ("waiting", (), None, 12)
        assert await store.wait_for(conn, waiting(ORDER, None)) == first

        opened_now = await store.open_erasure(conn, erasure())
        assert opened_now is not None
        assert opened_now.erasure_id == first.erasure_id
        assert await store.wait_for(conn, waiting(ORDER, 12)) == opened_now


async def test_a_request_is_read_with_its_orders_erasures_and_receipts(pool: asyncpg.Pool) -> None:
    request = ErasureRequest(uuid.uuid4(), "customer", "waiting", NOW, customer_id=12)
    async with pool.acquire() as conn:
        await store.insert_request(conn, request, [ORDER, ORDER + 1])
        waits = [await store.wait_for(conn, waiting(order_id, 12)) for order_id in (ORDER, ORDER + 1)]
        await store.refresh_request(conn, request.id, NOW)
        assert await store.fetch_request(conn, request.id) == request
        assert await store.request_erasures(conn, request.id) == waits

        one = await store.open_erasure(conn, erasure())
        assert one is not None
        own = answer(one, "anonymizer", known_orders=1)
        await store.insert_receipt(conn, own)
        await store.refresh_request(conn, request.id, NOW)
        read = await store.fetch_request(conn, request.id)
        assert read is not None
        assert read.status == "erasing"
        assert await store.request_erasures(conn, request.id) == [one, waits[1]]
        assert await store.request_receipts(conn, request.id) == [own]
        assert await store.fetch_request(conn, uuid.uuid4()) is None

        # A request of no order is inserted complete, and a refresh leaves it so.
        empty = ErasureRequest(uuid.uuid4(), "customer", "complete", NOW, email_hash=b"\x0a" * 32, completed_at=NOW)
        await store.insert_request(conn, empty, [])
        await store.refresh_request(conn, empty.id, NOW + MINUTE)
        assert await store.fetch_request(conn, empty.id) == empty


async def test_a_request_completes_only_once_its_orders_and_customer_records_are_erased(pool: asyncpg.Pool) -> None:
    with_order = ErasureRequest(uuid.uuid4(), "customer", "waiting", NOW, customer_id=12)
    records_only = ErasureRequest(uuid.uuid4(), "customer", "waiting", NOW, customer_id=13)
    async with pool.acquire() as conn:
        await store.insert_request(conn, with_order, [ORDER])
        await store.insert_request_customers(conn, with_order.id, [12, 14])
        await store.insert_request(conn, records_only, [])
        await store.insert_request_customers(conn, records_only.id, [13])
        one = await store.open_erasure(conn, erasure())
        assert one is not None
        await store.save_erasure(conn, completed(one, NOW))

        async def status(request: ErasureRequest) -> tuple[str, datetime | None]:
            read = await store.fetch_request(conn, request.id)
            assert read is not None
            return read.status, read.completed_at

        await store.refresh_requests(conn, ORDER, NOW)
        await store.refresh_request(conn, records_only.id, NOW)
        assert await status(with_order) == ("waiting", None)  # its order is complete, its records are not
        assert await status(records_only) == ("waiting", None)
        assert await store.request_customers(conn, with_order.id) == [CustomerErasure(12), CustomerErasure(14)]

        assert await store.customer_erased(conn, with_order.id, 12, {"customers": 2}, NOW + MINUTE)
        assert await store.customer_erased(conn, with_order.id, 12, {"customers": 0}, NOW + 2 * MINUTE)  # kept once
        assert not await store.customer_erased(conn, with_order.id, 13, {"customers": 1}, NOW)  # not asked here
        assert not await store.customer_erased(conn, uuid.uuid4(), 12, {"customers": 1}, NOW)
        await store.refresh_request(conn, with_order.id, NOW + MINUTE)
        assert await status(with_order) == ("waiting", None)  # 14 still waits
        assert await store.customer_erased(conn, with_order.id, 14, {"customers": 0}, NOW + MINUTE)
        await store.refresh_requests(conn, ORDER, NOW + 2 * MINUTE)  # by the order: its records count too
        assert await status(with_order) == ("complete", NOW + 2 * MINUTE)
        assert await store.request_customers(conn, with_order.id) == [
            CustomerErasure(12, NOW + MINUTE, {"customers": 2}),
            CustomerErasure(14, NOW + MINUTE, {"customers": 0}),
        ]

        assert await store.customer_erased(conn, records_only.id, 13, {"customers": 1}, NOW + MINUTE)
        await store.refresh_request(conn, records_only.id, NOW + MINUTE)
        assert await status(records_only) == ("complete", NOW + MINUTE)


async def test_a_forget_request_covers_an_order_only_when_no_request_does(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        held = await store.wait_for(conn, waiting(ORDER, 12))
        await store.ensure_order_request(conn, held, "forget", NOW)
        forget = await store.fetch_request(conn, held.erasure_id)
        assert forget is not None
        assert (forget.kind, forget.status, forget.customer_id) == ("forget", "waiting", 12)
        await store.ensure_order_request(conn, held, "order", NOW)
        assert await conn.fetchval("SELECT count(*) FROM erasure_requests") == 1


async def test_requests_are_listed_newest_first_by_keyset_and_status(pool: asyncpg.Pool) -> None:
    made = [
        ErasureRequest(uuid.uuid4(), "customer", status, NOW + index * MINUTE) for index, status in enumerate(STATUSES)
    ]
    tie = ErasureRequest(uuid.uuid4(), "order", "complete", made[-1].created_at)  # same time: the id decides
    async with pool.acquire() as conn:
        for request in [*made, tie]:
            await store.insert_request(conn, request, [])
        newest = sorted([made[-1], tie], key=lambda r: r.id, reverse=True)

        page = await store.list_requests(conn, RequestQuery(limit=3))
        assert page == [*newest, made[2]]
        rest = await store.list_requests(conn, RequestQuery(before=(page[-1].created_at, page[-1].id), limit=3))
        assert rest == [made[1], made[0]]
        after_tie = await store.list_requests(conn, RequestQuery(before=(newest[0].created_at, newest[0].id)))
        assert after_tie[0] == newest[1]
        assert await store.list_requests(conn, RequestQuery(status="waiting")) == [made[1]]
        complete = await store.list_requests(
            conn, RequestQuery(status="complete", before=(made[2].created_at, made[2].id))
        )
        assert complete == [made[0]]
