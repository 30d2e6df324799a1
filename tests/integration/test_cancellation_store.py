"""The cancellation worker's SQL against real Postgres, on a scratch schema with its migrations: the
order copy keeps the newest snapshot, the ledger is append-only with one request and one settlement
per key, loyalty balances add up, requests page by keyset, one notification per Message-ID."""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from services.cancellation_worker import store
from services.cancellation_worker.domain.ledger import LedgerEntry
from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.domain.requests import requests_from
from shared.cancellations import BankAccount, CancellationReason, CancellationSubmitted, ShippingCompany
from shared.orders import OrderLifecycleData
from shared.services import CANCELLATION_WORKER
from tests.support.cancellations import IBAN, paid_order, submission
from tests.support.scratch import scratch_schema

ORDER = 7270


@pytest.fixture
async def pool(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_schema(stack[0], CANCELLATION_WORKER.migrations_dir) as created:
        yield created


def requested(amount: str = "20.00", refund_id: int = 1) -> LedgerEntry:
    key = uuid.uuid4()
    return LedgerEntry(
        key, key, "requested", ORDER, refund_id, "refund", "original", Decimal(amount), "USD", None, datetime.now(UTC)
    )


async def test_the_copy_keeps_the_newest_snapshot(pool: asyncpg.Pool) -> None:
    newer = paid_order(ORDER).model_copy(update={"note": "newer"})
    async with pool.acquire() as conn:
        assert await store.upsert_order(conn, OrderLifecycleData(order_id=ORDER, sequence=2, order=newer))
        assert not await store.upsert_order(
            conn, OrderLifecycleData(order_id=ORDER, sequence=1, order=paid_order(ORDER))
        )
        assert not await store.upsert_order(conn, OrderLifecycleData(order_id=ORDER, sequence=2, order=newer))
        kept = await store.fetch_order(conn, ORDER, lock=False)
        assert kept == newer
        assert await store.fetch_order(conn, ORDER + 1) is None


async def test_the_ledger_is_append_only_with_one_request_and_one_settlement_per_key(pool: asyncpg.Pool) -> None:
    entry = requested()
    settled = dataclasses.replace(entry, entry_id=uuid.uuid4(), entry_type="succeeded")
    async with pool.acquire() as conn:
        await store.append_entry(conn, entry)
        await store.append_entry(conn, settled)
        assert await store.ledger_of(conn, ORDER) == [entry, settled]
        for duplicate in (
            dataclasses.replace(entry, entry_id=entry.entry_id),
            dataclasses.replace(settled, entry_id=uuid.uuid4(), entry_type="failed"),
        ):
            with pytest.raises(asyncpg.UniqueViolationError):
                await store.append_entry(conn, duplicate)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE ledger_entries SET amount = 0")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM ledger_entries")
        with pytest.raises(asyncpg.CheckViolationError):
            await store.append_entry(conn, dataclasses.replace(requested(), entry_id=uuid.uuid4()))


async def test_loyalty_credits_add_up_per_customer_and_currency(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await store.credit_loyalty(conn, requested("20.00"), 9) == Decimal("20.00")
        assert await store.credit_loyalty(conn, requested("5.50"), 9) == Decimal("25.50")
        assert await store.credit_loyalty(conn, requested("1.00"), 10) == Decimal("1.00")
        credits = await store.loyalty_credits(conn, 9)
    assert [(credit.amount, credit.balance) for credit in credits] == [
        (Decimal("20.00"), Decimal("20.00")),
        (Decimal("5.50"), Decimal("25.50")),
    ]


async def test_requests_keep_their_bank_account_apart_and_page_newest_first(pool: asyncpg.Pool) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    async with pool.acquire() as conn:
        for index in range(3):
            event = submission(ORDER, (ORDER * 10 + 1, 1, "refund"), iban=IBAN, first_request_id=100 + index)
            assert isinstance(event.data, CancellationSubmitted)
            data = event.data.model_copy(update={"submitted_at": base + timedelta(minutes=index)})
            account = BankAccount(iban=IBAN, holder_name="Jane Doe")
            assert await store.insert_requests(conn, requests_from(data), event.id, account)
        again = submission(ORDER, (ORDER * 10 + 1, 1, "cancel"), first_request_id=102)
        assert isinstance(again.data, CancellationSubmitted)
        async with conn.transaction():
            assert not await store.insert_requests(conn, requests_from(again.data), again.id, None)

        first = await store.list_requests(conn, order_id=ORDER, limit=2)
        last = first[-1]
        rest = await store.list_requests(conn, order_id=ORDER, limit=2, before=(last.created_at, last.request_id))
        assert [r.request_id for r in first + rest] == [102, 101, 100]
        assert await store.list_requests(conn, status="approved") == []
        assert [r.request_id for r in await store.list_requests(conn, created_since=base + timedelta(minutes=1))] == [
            102,
            101,
        ]
        approved = dataclasses.replace(first[0], status="approved", refund_method="bank_transfer")
        await store.save_request(conn, approved)
        assert await store.fetch_request(conn, 102, lock=False) == approved
        assert await store.bank_account_of(conn, 102) == BankAccount(iban=IBAN, holder_name="Jane Doe")
        assert {r.iban_last4 for r in await store.requests_of_order(conn, ORDER)} == {IBAN[-4:]}


async def test_one_notification_per_message_id_and_reference_data_upserts(pool: asyncpg.Pool) -> None:
    notice = Notice("<n@x>", "refund.succeeded", ORDER, "guest@example.com", "s", "b")
    async with pool.acquire() as conn:
        assert await store.insert_notification(conn, notice)
        assert not await store.insert_notification(conn, notice)
        await store.upsert_reason(conn, CancellationReason(id=1, name="a"))
        await store.upsert_reason(conn, CancellationReason(id=1, name="b", active=False))
        await store.upsert_company(conn, ShippingCompany(id=2, name="c"))
        assert await store.list_reasons(conn) == [CancellationReason(id=1, name="b", active=False)]
        assert await store.list_companies(conn) == [ShippingCompany(id=2, name="c")]
