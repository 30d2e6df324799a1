"""The guest lookup's query in the real Postgres (order_api's migrations on a scratch schema): only a
guest order with the number and the exact email is read, never an anonymized one (even by its masked
email `*`), so a miss never reads or parses a document."""

from datetime import UTC, datetime

import asyncpg
import pytest
from pydantic import ValidationError

from services.order_api.domain.anonymization import mask_order
from services.order_api.domain.stored import StoredOrder
from services.order_api.store.orders import OrderRows
from shared.erasure import MASK
from tests.support.orders import sample_order

EMAIL = "guest@example.com"
GUEST_ORDER = sample_order(1, EMAIL)  # number 1001


@pytest.fixture
async def orders(order_api_pool: asyncpg.Pool) -> asyncpg.Pool:
    """A guest's order (number 1001), a registered customer's (number 1002) with the same email, and an
    anonymized guest order (number 1003, email `*`)."""
    async with order_api_pool.acquire() as conn:
        await OrderRows(conn).insert(GUEST_ORDER, None)
        await OrderRows(conn).insert(sample_order(2, EMAIL).model_copy(update={"guest": False}), None)
        await OrderRows(conn).insert(mask_order(sample_order(3, EMAIL), datetime.now(UTC)), None)
    return order_api_pool


async def test_the_guest_order_with_the_number_and_exact_email_is_found(orders: asyncpg.Pool) -> None:
    async with orders.acquire() as conn:
        assert await OrderRows(conn).fetch_guest(1001, EMAIL) == StoredOrder(GUEST_ORDER, 1)
        assert await OrderRows(conn).fetch_guest(1001, EMAIL, for_update=True) == StoredOrder(GUEST_ORDER, 1)


@pytest.mark.parametrize(
    ("number", "email"),
    [
        (1001, "someone@example.com"),
        (1001, EMAIL.upper()),
        (1001, EMAIL + " "),
        (1002, EMAIL),
        (1003, MASK),
        (1003, EMAIL),
        (999_999, EMAIL),
        (0, EMAIL),
    ],
    ids=[
        "another email",
        "the email in other case",
        "a trailing space",
        "a registered customer's",
        "an anonymized order by its masked email",
        "an anonymized order by its former email",
        "no order",
        "no number",
    ],
)
async def test_a_miss_never_reads_the_document(orders: asyncpg.Pool, number: int, email: str) -> None:
    async with orders.acquire() as conn:
        # Documents no order could be parsed from: reading one would raise.
        await conn.execute("""UPDATE orders SET document = '{"unreadable": true}'""")

        assert await OrderRows(conn).fetch_guest(number, email) is None
        with pytest.raises(ValidationError):  # whereas the full match does read it
            await OrderRows(conn).fetch_guest(1001, EMAIL)
