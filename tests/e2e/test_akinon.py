"""Akinon's guest order lookup, `POST /users/orders/anonymous/`, against the running service."""

import random
import uuid
from decimal import Decimal
from typing import Any, Final

import asyncpg
import httpx
import pytest

from services.order_api.domain.http_guards import RateLimitBuckets
from shared.order_facts import VariantFact
from tests.e2e.conftest import RATE_LIMIT_HASH_KEY
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH

LOOKUP_PATH: Final = "/users/orders/anonymous/"
# What differs between any two answers by design: when, and which request.
PER_REQUEST_HEADERS: Final = {"date", "x-correlation-id"}
# The fields the document lists for the order, every one of them in every answer.
AKINON_FIELDS: Final = {
    "pk", "number", "amount", "discount_amount", "amount_without_discount", "shipping_amount", "shipping_tax_rate",
    "refund_amount", "discount_refund_amount", "shipping_refund_amount", "is_cancelled", "is_cancellable",
    "is_refundable", "is_payable", "tracking_url", "tracking_number", "invoice_number", "invoice_date",
    "e_archive_url", "order_type", "user_email", "has_gift_box", "gift_box_note", "notes", "installment_count",
    "installment_interest_amount", "bin_number", "created_date", "modified_date", "shipping_company", "bank",
    "extra_field",
}  # fmt: skip


@pytest.fixture
def api(system: dict[str, ServiceProcess]) -> str:
    return system["order_api"].url


def client_ip() -> str:
    """A client address of its own (the service trusts X-Forwarded-For from loopback, as from a
    proxy), so each test's attempts count apart from every other's."""
    return f"198.51.{random.randrange(256)}.{random.randrange(1, 255)}"


async def place(http: httpx.AsyncClient, api: str, order: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(api + CREATE_PATH, json={"order": order})
    assert response.status_code == 201, response.text
    placed: dict[str, Any] = response.json()["order"]
    return placed


def guest_order(email: str) -> dict[str, Any]:
    return {
        "email": email,
        "currency": "USD",
        "note": "Leave at the door",
        "note_attributes": [{"name": "gift_message", "value": "Happy birthday"}],
        "line_items": [{"title": "IPod Touch 8GB", "price": "199.00", "quantity": 2}],
        "shipping_lines": [{"title": "Standard", "price": "10.00", "tax_lines": []}],
        "discount_codes": [{"code": "TENOFF", "amount": "10.00"}],
    }


async def lookup(api: str, number: str, email: str, ip: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:  # a guest has no API key
        return await anonymous.post(
            api + LOOKUP_PATH, json={"number": number, "email": email}, headers={"x-forwarded-for": ip}
        )


def answer(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {name: value for name, value in response.headers.items() if name not in PER_REQUEST_HEADERS}
    return response.status_code, response.content, headers


async def test_query_order_by_number_and_email_guest_users(api: str, http: httpx.AsyncClient) -> None:
    """The document's example: a guest's number and email give an array with that one order."""
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    placed = await place(http, api, guest_order(email))

    for number in (str(placed["order_number"]), placed["name"]):  # "1001", and "#1001" as Haravan names it
        response = await lookup(api, number, email, client_ip())
        assert response.status_code == 200, response.text
        [order] = response.json()
        assert set(order) == AKINON_FIELDS
        assert (order["pk"], order["number"], order["user_email"]) == (placed["id"], str(placed["order_number"]), email)
        assert (order["amount"], order["discount_amount"], order["amount_without_discount"]) == (
            placed["total_price"],
            "10.00",
            str(Decimal(placed["total_price"]) + Decimal("10.00")),
        )
        assert (order["shipping_amount"], order["refund_amount"]) == ("10.00", "0.00")
        assert (order["is_cancelled"], order["is_cancellable"], order["is_payable"]) == (False, True, False)
        assert (order["notes"], order["extra_field"]) == ("Leave at the door", {"gift_message": "Happy birthday"})
        assert (order["order_type"], order["installment_count"], order["bank"]) == ("regular", 1, None)
        assert order["created_date"] == placed["created_at"]


async def test_a_registered_customers_order_a_wrong_email_a_wrong_or_malformed_number_and_no_order_look_the_same(
    api: str, http: httpx.AsyncClient, demo_catalog: dict[int, VariantFact]
) -> None:
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    guest = await place(http, api, guest_order(email))
    registered_email = f"registered-{uuid.uuid4().hex[:12]}@example.com"
    registered = await place(
        http,
        api,
        {**guest_order(registered_email), "customer": {"id": 207119551}},  # the demo's account
    )
    assert (guest["guest"], registered["guest"]) == (True, False)
    highest = max(guest["order_number"], registered["order_number"])

    ip = client_ip()
    misses = {
        "a registered customer's order": await lookup(api, str(registered["order_number"]), registered_email, ip),
        "a wrong email": await lookup(api, str(guest["order_number"]), "someone@example.com", ip),
        "the email in other case": await lookup(api, str(guest["order_number"]), email.upper(), ip),
        "a wrong number": await lookup(api, str(registered["order_number"]), email, ip),
        "no such order": await lookup(api, str(highest + 10**9), email, ip),
        "a malformed number": await lookup(api, "10O1", email, ip),
    }
    answers = {case: answer(response) for case, response in misses.items()}
    status, body, headers = answers["no such order"]
    assert status == 404
    assert httpx.Response(status, content=body).json()["code"] == "order_not_found"
    assert {case: seen for case, seen in answers.items() if seen != (status, body, headers)} == {}


async def test_a_registered_customers_order_stays_out_of_the_lookup_after_its_customer_is_detached(
    api: str, http: httpx.AsyncClient, demo_catalog: dict[int, VariantFact]
) -> None:
    email = f"registered-{uuid.uuid4().hex[:12]}@example.com"
    placed = await place(http, api, {**guest_order(email), "customer": {"id": 207119551}})  # the demo's account
    detached = await http.put(f"{api}/com/orders/{placed['id']}.json", json={"order": {"customer": None}})
    assert detached.status_code == 200, detached.text
    assert (detached.json()["order"]["customer"], detached.json()["order"]["guest"]) == (None, False)

    found = await lookup(api, str(placed["order_number"]), email, client_ip())
    missing = await lookup(api, str(placed["order_number"] + 10**12), email, client_ip())

    assert answer(found) == answer(missing)
    assert found.status_code == 404


async def test_repeated_guesses_from_one_client_are_rate_limited(api: str, http: httpx.AsyncClient) -> None:
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    placed = await place(http, api, guest_order(email))
    ip = client_ip()
    guesses = [await lookup(api, str(placed["order_number"]), f"guess{n}@example.com", ip) for n in range(10)]
    assert [response.status_code for response in guesses] == [404] * 10
    # The 11th in the same minute is refused; should the minute have turned meanwhile, within 10 more.
    for n in range(11):
        limited = await lookup(api, str(placed["order_number"]), f"guess-more{n}@example.com", ip)
        if limited.status_code == 429:
            break
    assert limited.status_code == 429, limited.text
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # Even the right email is refused now: the limit does not let through what guessing would find.
    assert (await lookup(api, str(placed["order_number"]), email, ip)).status_code == 429
    # It holds this client back from every other order too, and nobody else.
    other_email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    other = str((await place(http, api, guest_order(other_email)))["order_number"])
    assert (await lookup(api, other, other_email, ip)).status_code == 429
    assert (await lookup(api, other, other_email, client_ip())).status_code == 200


async def test_one_client_guessing_at_an_order_number_locks_nobody_else_out_of_it(
    api: str, http: httpx.AsyncClient
) -> None:
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    number = str((await place(http, api, guest_order(email)))["order_number"])
    guesser, customer = client_ip(), client_ip()

    # The guesser runs out of attempts (should the window turn meanwhile, within 10 more).
    statuses = [(await lookup(api, number, f"guess{n}@example.com", guesser)).status_code for n in range(21)]
    assert statuses[:10] == [404] * 10
    assert 429 in statuses
    assert (await lookup(api, number, email, guesser)).status_code == 429

    # The customer, from another address, still finds their order.
    found = await lookup(api, number, email, customer)
    assert found.status_code == 200, found.text
    assert [order["number"] for order in found.json()] == [number]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "1001", "email": "not-an-email"}, "email"),
        ({"number": "1001"}, "email"),
        ({"email": "guest@example.com"}, "number"),
        ({"number": 1001, "email": "guest@example.com"}, "number"),
        ({"number": "1001", "email": "guest@example.com", "password": "x"}, "password"),
    ],
)
async def test_a_malformed_lookup_is_422_naming_the_field(api: str, body: dict[str, Any], field: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:
        response = await anonymous.post(api + LOOKUP_PATH, json=body, headers={"x-forwarded-for": client_ip()})
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_the_rate_limit_keeps_no_client_address_nor_what_a_guest_typed(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    number = str((await place(http, api, guest_order(email)))["order_number"])
    ip = client_ip()
    typed = f"typed-{uuid.uuid4().hex[:12]}@example.com"  # an email in the number field

    assert (await lookup(api, number, email, ip)).status_code == 200
    assert (await lookup(api, typed, email, ip)).status_code == 404

    hits = {
        row["bucket"]: row["hits"]
        for row in await admin_db.fetch("SELECT bucket, sum(hits) AS hits FROM order_api.rate_windows GROUP BY 1")
    }
    assert not [bucket for bucket in hits if ip in bucket or typed in bucket or email in bucket]
    # Each attempt counted in the buckets of this client under the service's key, as before.
    buckets = RateLimitBuckets(RATE_LIMIT_HASH_KEY.encode())
    per_client, per_number = buckets.of_attempt(number, ip)
    per_typed = buckets.of_attempt(typed, ip)[1]
    assert (hits.get(per_client), hits.get(per_number), hits.get(per_typed)) == (2, 1, 1)
