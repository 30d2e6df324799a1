"""Akinon's guest cancellation requests (`POST /users/orders/anonymous/cancellation_requests/` and
`.../bulk_cancellation_requests/`) against the running service: a request accepted flags its item and
is announced on orders.events (without the bank account) and handed to the cancellation worker on
cancellations.requests (with it); each rule refuses with its own code and changes nothing; a bulk request
with one bad item creates nothing; a miss is answered exactly as the guest lookup's miss."""

import json
import uuid
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.order_facts import VariantFact
from shared.topics import CANCELLATIONS_REQUESTS, ORDERS_EVENTS
from tests.e2e.test_akinon import answer, client_ip, guest_order, lookup, place
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.storefront import assert_problem

REQUEST_PATH: Final = "/users/orders/anonymous/cancellation_requests/"
BULK_PATH: Final = "/users/orders/anonymous/bulk_cancellation_requests/"
IBAN: Final = "TR33 0006 1005 1978 6457 8413 26"
AKINON_REQUEST_FIELDS: Final = {
    "id", "order", "order_item", "quantity", "reason", "cancellation_type", "status", "description",
    "shipping_company", "pickup_date", "iban_last4", "created_date",
}  # fmt: skip


@pytest.fixture
def api(system: dict[str, ServiceProcess], demo_catalog: dict[int, VariantFact]) -> str:
    """The order API, its demo reasons (1-4; 9 retired) and shipping companies (1, 2; 3 no easy
    returns, 4 retired) applied."""
    return system["order_api"].url


async def ask(api: str, path: str, body: dict[str, Any], ip: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:  # a guest has no API key
        return await anonymous.post(api + path, json=body, headers={"x-forwarded-for": ip or client_ip()})


async def guest(http: httpx.AsyncClient, api: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A guest's order of two iPods (its only item), and a request body naming it and the guest."""
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    order = await place(http, api, guest_order(email))
    [item] = order["line_items"]
    return order, {"number": str(order["order_number"]), "email": email, "order_item": item["id"]}


async def sequence_of(admin_db: asyncpg.Connection, order: dict[str, Any]) -> int:
    sequence: int = await admin_db.fetchval("SELECT sequence FROM order_api.orders WHERE id = $1", order["id"])
    return sequence


async def test_a_guest_asks_to_cancel_an_item_and_the_worker_is_handed_the_request(
    api: str, http: httpx.AsyncClient, stack: tuple[str, str]
) -> None:
    order, named = await guest(http, api)

    response = await ask(
        api,
        REQUEST_PATH,
        {
            **named,
            "reason": 1,
            "cancellation_type": "cancel",
            "quantity": 1,
            "description": "Ordered twice",
            "iban": IBAN,
            "holder_name": "Ayse Yilmaz",
        },
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == AKINON_REQUEST_FIELDS
    assert (created["order"], created["order_item"], created["quantity"], created["reason"]) == (
        order["id"],
        named["order_item"],
        1,
        1,
    )
    assert (created["status"], created["cancellation_type"], created["iban_last4"]) == ("waiting", "cancel", "1326")
    assert "TR33" not in response.text
    subject = str(order["id"]).encode()
    [announced] = await read_records(
        stack[1],
        ORDERS_EVENTS,
        lambda record: record.key == subject and header(record, "ce_type") == "order.cancellation_requested",
        expect=1,
    )
    assert b"TR33" not in announced.value
    assert b"Ayse" not in announced.value
    [flagged] = json.loads(announced.value)["order"]["line_items"]
    assert flagged["active_request"] is True  # no second request for it while this one waits
    [handed] = await read_records(stack[1], CANCELLATIONS_REQUESTS, lambda record: record.key == subject, expect=1)
    assert header(handed, "ce_type") == "cancellation.submitted"
    assert b"TR330006100519786457841326" in handed.value
    assert b"Ayse Yilmaz" in handed.value
    # The worker approves the cancel; the other iPod may be asked for again.
    looked_up = await eventually(
        lambda: lookup(api, named["number"], named["email"], client_ip()),
        lambda response: response.json()[0]["is_cancellable"] is True,
    )
    assert looked_up.json()[0]["is_cancelled"] is False


async def test_a_bulk_request_names_several_items_and_answers_each(api: str, http: httpx.AsyncClient) -> None:
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    order = await place(
        http, api, {**guest_order(email), "line_items": [{"title": "Tea", "price": "5.00", "quantity": 1}] * 2}
    )
    items = [
        {"order_item": item["id"], "reason": 2, "cancellation_type": "cancel", "pickup_date": "2026-12-01"}
        for item in order["line_items"]
    ]

    response = await ask(api, BULK_PATH, {"number": order["name"], "email": email, "cancel_order_items": items})

    assert response.status_code == 201, response.text
    assert [(one["order_item"], one["quantity"], one["status"]) for one in response.json()] == [
        (item["id"], 1, "waiting") for item in order["line_items"]
    ]
    assert response.json()[0]["iban_last4"] is None


async def test_an_item_with_a_request_waiting_is_refused_with_cancellation_request_100_1(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    order, named = await guest(http, api)
    # A return waits for the goods to come back (a cancel the worker would approve at once).
    returning = {"reason": 1, "cancellation_type": "refund", "shipping_company": 1, "quantity": 1}
    first = await ask(api, REQUEST_PATH, {**named, **returning})
    assert first.status_code == 201, first.text

    again = await ask(api, REQUEST_PATH, {**named, "reason": 1, "cancellation_type": "cancel", "quantity": 1})

    assert_problem(again, 409, "cancellation_request_100_1", field="order_item")
    assert await sequence_of(admin_db, order) == 2


# (case, what the request says besides the order and its item, code, field): each rule's own refusal.
REFUSALS: Final = [
    ("an item of another order", {"order_item": 1}, "cancellation_request_100_2", "order_item"),
    ("quantity 0", {"quantity": 0}, "cancellation_request_100_3", "quantity"),
    ("more units than were ordered", {"quantity": 3}, "cancellation_request_100_3", "quantity"),
    ("an unknown reason", {"reason": 77}, "cancellation_request_100_4", "reason"),
    ("a retired reason", {"reason": 9}, "cancellation_request_100_4", "reason"),
    ("a return without a shipping company", {"cancellation_type": "refund"}, "cancellation_request_100_5",
     "shipping_company"),
    ("a company without easy returns", {"cancellation_type": "refund", "shipping_company": 3},
     "cancellation_request_100_6", "shipping_company"),
    ("a retired company", {"cancellation_type": "refund", "shipping_company": 4}, "cancellation_request_100_6",
     "shipping_company"),
    ("an IBAN of 35 characters", {"iban": "TR33" + "0" * 31, "holder_name": "A"}, "cancellation_request_100_7",
     "iban"),
    ("an IBAN failing mod-97", {"iban": "TR330006100519786457841327", "holder_name": "A"},
     "cancellation_request_100_8", "iban"),
    ("an IBAN without its holder", {"iban": IBAN}, "cancellation_request_100_9", "holder_name"),
    ("a holder without an IBAN", {"holder_name": "Ayse"}, "cancellation_request_100_9", "iban"),
    ("a holder name of 256 characters", {"iban": IBAN, "holder_name": "A" * 256}, "cancellation_request_100_10",
     "holder_name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "code", "field"), [case[1:] for case in REFUSALS], ids=[case[0] for case in REFUSALS]
)
async def test_each_rule_refuses_with_its_own_code_and_nothing_changes(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, fields: dict[str, Any], code: str, field: str
) -> None:
    order, named = await guest(http, api)

    response = await ask(api, REQUEST_PATH, {**named, "reason": 1, "cancellation_type": "cancel", **fields})

    assert_problem(response, 422, code, field=field)
    assert await sequence_of(admin_db, order) == 1


async def test_a_bulk_request_with_one_bad_item_creates_nothing(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    email = f"guest-{uuid.uuid4().hex[:12]}@example.com"
    order = await place(
        http, api, {**guest_order(email), "line_items": [{"title": "Tea", "price": "5.00", "quantity": 1}] * 2}
    )
    good, bad = ({"order_item": item["id"], "reason": 1, "cancellation_type": "cancel"} for item in order["line_items"])

    response = await ask(
        api, BULK_PATH, {"number": order["name"], "email": email, "cancel_order_items": [good, {**bad, "quantity": 2}]}
    )

    assert_problem(response, 422, "cancellation_request_100_3", field="cancel_order_items[1].quantity")
    assert await sequence_of(admin_db, order) == 1
    flags = await admin_db.fetchval(
        "SELECT jsonb_path_query_array(document, '$.line_items[*].active_request') FROM order_api.orders WHERE id = $1",
        order["id"],
    )
    assert flags == "[false, false]"


async def test_a_miss_is_answered_exactly_as_the_guest_lookups_miss(
    api: str, http: httpx.AsyncClient, demo_catalog: dict[int, VariantFact]
) -> None:
    order, named = await guest(http, api)
    registered_email = f"registered-{uuid.uuid4().hex[:12]}@example.com"
    registered = await place(http, api, {**guest_order(registered_email), "customer": {"id": 207119551}})
    ip = client_ip()
    request = {"reason": 1, "cancellation_type": "cancel"}
    bulk_items = [{"order_item": named["order_item"], **request}]

    the_lookups_miss = answer(await lookup(api, named["number"], "someone@example.com", ip))
    misses = {
        "a wrong email": await ask(api, REQUEST_PATH, {**named, **request, "email": "someone@example.com"}, ip),
        "the email in other case": await ask(
            api, REQUEST_PATH, {**named, **request, "email": named["email"].upper()}, ip
        ),
        "a registered customer's order": await ask(
            api,
            REQUEST_PATH,
            {**named, **request, "number": str(registered["order_number"]), "email": registered_email},
            ip,
        ),
        "no such order": await ask(api, REQUEST_PATH, {**named, **request, "number": str(10**15)}, ip),
        "a bulk request's wrong email": await ask(
            api, BULK_PATH, {"number": named["number"], "email": "x@example.com", "cancel_order_items": bulk_items}, ip
        ),
    }

    assert the_lookups_miss[0] == 404
    assert {case: answer(response) for case, response in misses.items() if answer(response) != the_lookups_miss} == {}
    assert order["line_items"][0]["fulfillable_quantity"] == 2


async def test_requests_and_lookups_share_the_guest_rate_limit(api: str, http: httpx.AsyncClient) -> None:
    _order, named = await guest(http, api)
    ip = client_ip()
    request = {"reason": 1, "cancellation_type": "cancel"}
    guesses = [
        await ask(api, REQUEST_PATH, {**named, **request, "email": f"guess{n}@example.com"}, ip) for n in range(10)
    ]
    assert [response.status_code for response in guesses] == [404] * 10
    # The lookups count against the same limit: the 11th attempt in the minute is refused (should the
    # minute have turned meanwhile, within 10 more).
    for n in range(11):
        limited = await lookup(api, named["number"], f"guess-more{n}@example.com", ip)
        if limited.status_code == 429:
            break
    assert limited.status_code == 429, limited.text
    refused = await ask(api, REQUEST_PATH, {**named, **request}, ip)  # the right email too, now
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (await ask(api, REQUEST_PATH, {**named, **request})).status_code == 201  # another client is not held back
