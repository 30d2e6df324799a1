"""A customer's erasure SQL (services/order_api/store/customer_erasure.py) on the real Postgres,
order_api's migrations on a scratch schema: the customer's record and the checkout records with its
email (any case) are locked and written back masked, another person's stay; whether an order of the
customer is left to anonymize; every request waiting on the customer is kept (each once), oldest
first, and forgotten together."""

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from services.order_api.domain.anonymization import mask_customer, mask_order
from services.order_api.store.catalog import CUSTOMER_COLUMNS, CustomerRows, customer_of
from services.order_api.store.customer_erasure import CustomerErasureRows
from services.order_api.store.orders import OrderRows
from shared.db import Connection
from shared.order_facts import CustomerFact
from shared.orders import CustomerSnapshot
from tests.support.orders import sample_order

CUSTOMER = 207119551
EMAIL = "Ada@Example.com"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _checkout_record(conn: Connection, email: str, first_name: str) -> CustomerSnapshot:
    """A checkout record, as a guest's first order makes one (store/orders.py)."""
    row = await conn.fetchrow(
        f"""INSERT INTO customers (id, email, first_name, state, created_at, updated_at)
            VALUES (nextval('customer_id_seq'), $1, $2, 'disabled', $3, $3) RETURNING {CUSTOMER_COLUMNS}""",
        email,
        first_name,
        NOW,
    )
    return customer_of(row)


async def test_the_customer_and_its_emails_checkout_records_are_masked_and_no_one_else(
    order_api_pool: asyncpg.Pool,
) -> None:
    async with order_api_pool.acquire() as conn:
        customers = CustomerRows(conn)
        account = CustomerFact(id=CUSTOMER, email=EMAIL, first_name="Ada", last_name="Byron", phone="+1555", note="VIP")
        await customers.upsert(account)
        checkout = await _checkout_record(conn, "ada@example.com", "Ada")
        other = await _checkout_record(conn, "bob@example.com", "Bob")
        rows = CustomerErasureRows(conn)

        async with conn.transaction():
            customer = await rows.lock_customer(CUSTOMER)
            assert customer is not None
            found = await rows.lock_checkout_records(EMAIL)
            assert [record.id for record in found] == [checkout.id]  # the account is not a checkout record
            masked = [mask_customer(record) for record in (customer, *found)]
            written = await rows.save_masked([r.model_copy(update={"updated_at": NOW}) for r in masked if r])

        assert written == 2
        for customer_id in (CUSTOMER, checkout.id):
            erased = await customers.fetch(customer_id)
            assert erased is not None
            assert (erased.email, erased.first_name, erased.updated_at) == ("*", "*", NOW)
        assert (await customers.fetch(CUSTOMER)) is not None
        assert (await customers.fetch(other.id)) == other
        assert await rows.lock_customer(404) is None


async def test_orders_left_to_anonymize_and_the_waiting_erasure(order_api_pool: asyncpg.Pool) -> None:
    async with order_api_pool.acquire() as conn:
        await CustomerRows(conn).upsert(CustomerFact(id=CUSTOMER, email=EMAIL))
        customer = await CustomerRows(conn).fetch(CUSTOMER)
        orders, rows = OrderRows(conn), CustomerErasureRows(conn)
        mine = sample_order(1, EMAIL).model_copy(update={"customer": customer, "guest": False})
        await orders.insert(mask_order(mine, NOW), None)
        assert await rows.has_orders_to_anonymize(CUSTOMER) is False  # only an anonymized one
        await orders.insert(sample_order(2, EMAIL).model_copy(update={"customer": customer, "guest": False}), None)
        assert await rows.has_orders_to_anonymize(CUSTOMER) is True
        assert await rows.has_orders_to_anonymize(CUSTOMER + 1) is False

        first, second, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await rows.wait(CUSTOMER, second, NOW + timedelta(seconds=1))
        await rows.wait(CUSTOMER, first, NOW)
        await rows.wait(CUSTOMER, second, NOW + timedelta(seconds=2))  # the same request again: kept once
        await rows.wait(CUSTOMER + 1, elsewhere, NOW)
        assert await rows.waiting(CUSTOMER) == [first, second]
        assert await rows.forget_waiting(CUSTOMER) == [first, second]
        assert await rows.waiting(CUSTOMER) == []
        assert await rows.forget_waiting(CUSTOMER) == []
        assert await rows.waiting(CUSTOMER + 1) == [elsewhere]
