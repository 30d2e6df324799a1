"""Customer erasure on the real stack (`POST /erasures` on the anonymizer, by customer id or by email) over
five orders of one customer: cancelled, fulfilled, fully refunded, open unpaid and open paid. The three
done orders are anonymized and erased at once, the two open ones wait until each becomes eligible (the
cancel of one, the fulfilment of the other); `GET /erasures/{id}` shows every order's progress and each
service's receipt, then the request complete; the customer's record is masked once its last order is,
and the request completes only with order_api's receipt for it (`customers` in the view). Another
customer's order and record are untouched. A customer order_api does not know is answered with nothing
erased, and that request completes."""

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.order_facts import CustomerFact, FulfillmentCreatedFact
from tests.e2e.conftest import EVERY_RECEIPT
from tests.support.order_api_facts import apply_facts, create_order, fact
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.refunds import cancel, everything, paid_order_body, refund
from tests.support.storefront import unique_email

ANONYMIZER_KEY: Final = {"authorization": f"Bearer {LOCAL_API_KEY}"}
CUSTOMER_ROW: Final = "SELECT email, first_name, last_name, phone FROM order_api.customers WHERE id = $1"


@dataclass(frozen=True)
class Person:
    customer_id: int
    email: str
    record: tuple[str, str, str, str]  # the customer row as the customer service gave it


async def _person(stack: tuple[str, str], admin_db: asyncpg.Connection, last_name: str) -> Person:
    customer_id = 700_000_000 + uuid.uuid4().int % 100_000_000
    email = unique_email(last_name.lower())
    account = CustomerFact(id=customer_id, email=email, first_name="Ada", last_name=last_name, phone="+15550142")
    await apply_facts(stack[1], admin_db, [fact("customer.upserted", account, customer_id)])
    return Person(customer_id, email, (email, "Ada", last_name, "+15550142"))


async def _order(http: httpx.AsyncClient, api: str, person: Person, *, paid: bool) -> dict[str, Any]:
    address = {"first_name": "Ada", "last_name": person.record[2], "address1": "12 Analytical Row", "city": "London"}
    return await create_order(
        http,
        api,
        paid_order_body(
            paid=None if not paid else "245.47",
            email=person.email,
            customer={"id": person.customer_id},
            billing_address=address,
            shipping_address=address,
            phone="+15550142",
            **({} if paid else {"financial_status": "pending"}),
        ),
    )


async def _fulfil(stack: tuple[str, str], admin_db: asyncpg.Connection, order_id: int) -> None:
    shipped = FulfillmentCreatedFact(order_id=order_id, fulfillment_id=1)
    await apply_facts(stack[1], admin_db, [fact("fulfillment.created", shipped, order_id)])


async def _five_orders(
    http: httpx.AsyncClient, api: str, stack: tuple[str, str], admin_db: asyncpg.Connection, person: Person
) -> dict[str, int]:
    """The person's five orders, by state, each through the doors a shop uses."""
    cancelled = await _order(http, api, person, paid=False)
    assert (await cancel(http, api, cancelled["id"])).status_code == 200
    fulfilled = await _order(http, api, person, paid=True)
    await _fulfil(stack, admin_db, fulfilled["id"])
    refunded = await _order(http, api, person, paid=True)
    settled = await refund(http, api, refunded["id"], everything(refunded), {"prefer": "wait=30"})
    assert settled.status_code == 201, settled.text
    assert settled.json()["refund"]["status"] == "success", settled.text
    orders = {
        "cancelled": cancelled["id"],
        "fulfilled": fulfilled["id"],
        "refunded": refunded["id"],
        "open_unpaid": (await _order(http, api, person, paid=False))["id"],
        "open_paid": (await _order(http, api, person, paid=True))["id"],
    }
    statuses = await admin_db.fetch(
        "SELECT id, status, financial_status, fulfillment_status FROM order_api.orders WHERE id = ANY($1::bigint[])",
        list(orders.values()),
    )
    by_id = {row["id"]: tuple(row.values())[1:] for row in statuses}
    assert [by_id[order_id] for order_id in orders.values()] == [
        ("cancelled", "pending", None),
        ("open", "paid", "fulfilled"),
        ("open", "refunded", None),
        ("open", "pending", None),
        ("open", "paid", None),
    ]
    # The anonymizer finds a person's orders in its own copy: wait until it has seen all five.
    await eventually(
        lambda: admin_db.fetchval(
            "SELECT count(*) FROM anonymizer.known_orders WHERE order_id = ANY($1::bigint[]) AND customer_id = $2",
            list(orders.values()),
            person.customer_id,
        ),
        lambda known: known == len(orders),
        timeout=30,
    )
    return orders


async def _anonymized(admin_db: asyncpg.Connection, order_ids: list[int]) -> dict[int, tuple[bool, str]]:
    rows = await admin_db.fetch(
        "SELECT id, anonymized, email FROM order_api.orders WHERE id = ANY($1::bigint[])", order_ids
    )
    return {row["id"]: (row["anonymized"], row["email"]) for row in rows}


@pytest.mark.parametrize("by", ["customer_id", "email"])
async def test_a_customers_orders_are_erased_now_when_done_and_the_others_as_they_become_eligible(
    by: str,
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
) -> None:
    api, anonymizer = system["order_api"].url, system["anonymizer"].url
    person, other = await _person(stack, admin_db, "Lovelace"), await _person(stack, admin_db, "Byron")
    orders = await _five_orders(http, api, stack, admin_db, person)
    others_order = await _order(http, api, other, paid=False)
    assert (await cancel(http, api, others_order["id"])).status_code == 200  # eligible, but nobody asked

    asked = await http.post(
        f"{anonymizer}/erasures",
        json={"customer_id": person.customer_id} if by == "customer_id" else {"email": person.email.upper()},
        headers=ANONYMIZER_KEY,
    )

    assert asked.status_code == 202, asked.text
    assert asked.headers["location"] == f"/erasures/{asked.json()['id']}"
    assert sorted(order["order_id"] for order in asked.json()["orders"]) == sorted(orders.values())
    assert asked.json()["customers"] == [
        {"customer_id": person.customer_id, "state": "waiting", "rows": None, "erased_at": None}
    ]
    assert person.email not in asked.text

    async def progress() -> dict[str, Any]:
        seen = await http.get(f"{anonymizer}/erasures/{asked.json()['id']}", headers=ANONYMIZER_KEY)
        assert seen.status_code == 200, seen.text
        body: dict[str, Any] = seen.json()
        return body

    def states(request: dict[str, Any]) -> dict[str, str]:
        by_id = {order["order_id"]: order["state"] for order in request["orders"]}
        return {name: by_id[order_id] for name, order_id in orders.items()}

    def complete_but(*waiting: str) -> dict[str, str]:
        return {name: "waiting" if name in waiting else "complete" for name in orders}

    # The three done orders are erased now, every service answering; the two open ones wait, unmasked.
    now = await eventually(progress, lambda seen: states(seen) == complete_but("open_unpaid", "open_paid"), timeout=60)
    assert now["status"] == "waiting"
    for order in now["orders"]:
        if order["state"] == "complete":
            assert sorted(receipt["service"] for receipt in order["receipts"]) == EVERY_RECEIPT
            assert order["missing"] == []
            assert order["completed_at"] is not None
        else:
            assert (order["receipts"], order["completed_at"]) == ([], None)
    anonymized = await _anonymized(admin_db, list(orders.values()))
    assert anonymized[orders["open_unpaid"]] == anonymized[orders["open_paid"]] == (False, person.email)
    assert {anonymized[orders[name]] for name in ("cancelled", "fulfilled", "refunded")} == {(True, "*")}
    assert tuple(await admin_db.fetchrow(CUSTOMER_ROW, person.customer_id) or ()) == person.record
    assert [customer["state"] for customer in now["customers"]] == ["waiting"]

    # One by one, as each open order becomes eligible, it is erased by itself.
    assert (await cancel(http, api, orders["open_unpaid"])).status_code == 200
    await eventually(progress, lambda seen: states(seen) == complete_but("open_paid"), timeout=60)
    assert (await _anonymized(admin_db, [orders["open_paid"]]))[orders["open_paid"]] == (False, person.email)
    assert tuple(await admin_db.fetchrow(CUSTOMER_ROW, person.customer_id) or ()) == person.record

    last = await progress()
    assert (last["status"], [customer["state"] for customer in last["customers"]]) == ("waiting", ["waiting"])

    await _fulfil(stack, admin_db, orders["open_paid"])
    done = await eventually(progress, lambda seen: seen["status"] == "complete", timeout=60)

    assert states(done) == complete_but()
    assert done["completed_at"] is not None
    # Complete only with order_api's receipt for the customer's record, masked with the last order.
    (customer,) = done["customers"]
    assert (customer["customer_id"], customer["state"], customer["rows"]) == (
        person.customer_id,
        "erased",
        {"customers": 1},
    )
    assert datetime.fromisoformat(customer["erased_at"]) <= datetime.fromisoformat(done["completed_at"])
    assert {receipt["service"] for order in done["orders"] for receipt in order["receipts"]} == set(EVERY_RECEIPT)
    assert set((await _anonymized(admin_db, list(orders.values()))).values()) == {(True, "*")}
    assert tuple(await admin_db.fetchrow(CUSTOMER_ROW, person.customer_id) or ()) == ("*", "*", "*", "*")
    # The other customer: their order (eligible, never asked for) and their record as they were.
    assert (await _anonymized(admin_db, [others_order["id"]]))[others_order["id"]] == (False, other.email)
    assert tuple(await admin_db.fetchrow(CUSTOMER_ROW, other.customer_id) or ()) == other.record
    listed = await http.get(
        f"{anonymizer}/erasures", params={"status": "complete", "limit": 200}, headers=ANONYMIZER_KEY
    )
    assert asked.json()["id"] in [item["id"] for item in listed.json()["items"]]


async def test_an_erasure_by_email_covers_every_order_of_the_account_it_finds(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
) -> None:
    """The email finds the customer's account through an order; the account's order placed under
    another email is the same person's, so it is erased too, and the account's record then is."""
    api, anonymizer = system["order_api"].url, system["anonymizer"].url
    person = await _person(stack, admin_db, "Somerville")
    by_email = await _order(http, api, person, paid=False)
    other_email = replace(person, email=unique_email("mary"))
    by_account = await _order(http, api, other_email, paid=False)
    for order in (by_email, by_account):
        assert (await cancel(http, api, order["id"])).status_code == 200
    await eventually(
        lambda: admin_db.fetchval(
            "SELECT count(*) FROM anonymizer.known_orders WHERE customer_id = $1", person.customer_id
        ),
        lambda known: known == 2,
        timeout=30,
    )

    asked = await http.post(f"{anonymizer}/erasures", json={"email": person.email}, headers=ANONYMIZER_KEY)

    assert asked.status_code == 202, asked.text
    assert sorted(order["order_id"] for order in asked.json()["orders"]) == sorted([by_email["id"], by_account["id"]])
    done = await eventually(
        lambda: http.get(f"{anonymizer}/erasures/{asked.json()['id']}", headers=ANONYMIZER_KEY),
        lambda seen: seen.json()["status"] == "complete",
        timeout=60,
    )
    assert set((await _anonymized(admin_db, [by_email["id"], by_account["id"]])).values()) == {(True, "*")}
    # Complete with the account's receipt: its record is masked by then.
    assert [(c["customer_id"], c["state"]) for c in done.json()["customers"]] == [(person.customer_id, "erased")]
    assert tuple(await admin_db.fetchrow(CUSTOMER_ROW, person.customer_id) or ()) == ("*", "*", "*", "*")


async def test_an_erasure_of_a_customer_order_api_does_not_know_completes_with_nothing_erased(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    anonymizer = system["anonymizer"].url
    unknown = 700_000_000 + uuid.uuid4().int % 100_000_000

    asked = await http.post(f"{anonymizer}/erasures", json={"customer_id": unknown}, headers=ANONYMIZER_KEY)

    assert asked.status_code == 202, asked.text
    assert (asked.json()["status"], asked.json()["orders"]) == ("waiting", [])  # the record's answer is due
    done = await eventually(
        lambda: http.get(f"{anonymizer}/erasures/{asked.json()['id']}", headers=ANONYMIZER_KEY),
        lambda seen: seen.json()["status"] == "complete",
        timeout=60,
    )
    (customer,) = done.json()["customers"]
    assert (customer["customer_id"], customer["state"], customer["rows"]) == (unknown, "erased", {"customers": 0})
