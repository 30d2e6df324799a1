"""Bad input to the Haravan routes, tried as a new user would: each gets a clear 4xx problem naming what
to fix (in Shopify's `errors` shape, attribute -> messages), and nothing is written (no order with the
request's unique email, no new order version)."""

import uuid
from typing import Any, Final

import asyncpg
import httpx
import pytest

from tests.support.order_api_facts import AUTH, create_order
from tests.support.processes import ServiceProcess
from tests.support.storefront import problem_fields

ITEM: Final = {"title": "Teapot", "price": "10.00", "quantity": 1}


def _body(email: str, **fields: Any) -> dict[str, Any]:
    return {"order": {"email": email, "line_items": [ITEM], **fields}}


# (case, order fields or a raw body, status, code, field)
CREATES: Final[list[tuple[str, dict[str, Any] | str, int, str, str | None]]] = [
    (
        "quantity as words",
        {"line_items": [{**ITEM, "quantity": "two"}]},
        422,
        "validation_error",
        "line_items[0].quantity",
    ),
    (
        "negative quantity",
        {"line_items": [{**ITEM, "quantity": -1}]},
        422,
        "validation_error",
        "line_items[0].quantity",
    ),
    ("price as a list", {"line_items": [{**ITEM, "price": [1]}]}, 422, "validation_error", "line_items[0].price"),
    ("unknown field", {"colour": "red"}, 422, "validation_error", "colour"),
    (
        "unknown nested field",
        {"line_items": [{**ITEM, "colour": "red"}]},
        422,
        "validation_error",
        "line_items[0].colour",
    ),
    ("41-character tag", {"tags": "ok, " + "x" * 41}, 422, "tag_too_long", "tags"),
    (
        "too precise price",
        {"line_items": [{**ITEM, "price": "10.001"}]},
        422,
        "too_precise",
        "line_items[0].price",
    ),
    ("no line items", {"line_items": []}, 422, "validation_error", "line_items"),
    (
        "unknown variant",
        {"line_items": [{"variant_id": 1, "quantity": 1}]},
        422,
        "unknown_variant",
        "line_items[0].variant_id",
    ),
    ("unknown customer", {"customer": {"id": 1}}, 422, "unknown_customer", "customer.id"),
    (
        "tax lines not adding up",
        {"tax_lines": [{"title": "VAT", "price": "1.00", "rate": "0.1"}], "total_tax": "2.00"},
        422,
        "total_tax_mismatch",
        "total_tax",
    ),
    ("NUL in the note", {"note": "a\u0000b"}, 422, "validation_error", "note"),
    ("time without offset", {"processed_at": "2015-03-28T13:30:00"}, 422, "validation_error", "processed_at"),
    # Amounts as the documented pattern writes them: ASCII digits, no spaces, no exponent.
    (
        "Arabic-Indic digits",
        {"line_items": [{**ITEM, "price": "١٢"}]},
        422,
        "validation_error",
        "line_items[0].price",
    ),
    ("a leading space", {"total_tax": " 1.00"}, 422, "validation_error", "total_tax"),
    (
        "an exponent",
        {"transactions": [{"kind": "sale", "amount": "1e3"}]},
        422,
        "validation_error",
        "transactions[0].amount",
    ),
    ("browser_ip not an address", {"browser_ip": "not-an-ip"}, 422, "validation_error", "browser_ip"),
    (
        "client browser_ip not an address",
        {"client_details": {"browser_ip": "1.2.3.4.5"}},
        422,
        "validation_error",
        "client_details.browser_ip",
    ),
    (
        "refunded without a refund",
        {"financial_status": "refunded"},
        422,
        "financial_status_mismatch",
        "financial_status",
    ),
    (
        "partially refunded without a refund",
        {"financial_status": "partially_refunded", "transactions": [{"kind": "sale", "amount": "10.00"}]},
        422,
        "financial_status_mismatch",
        "financial_status",
    ),
    (
        "a refund beyond what was captured",
        {"transactions": [{"kind": "sale", "amount": "4.00"}, {"kind": "refund", "amount": "10.00"}]},
        422,
        "refund_exceeds_captured",
        "transactions",
    ),
    ("bad JSON", '{"order": {"email": "%s", "line_items": [', 400, "malformed_json", None),
    ("huge body", {"note": "x" * 2_000_000}, 413, "payload_too_large", None),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"), [case[1:] for case in CREATES], ids=[case[0] for case in CREATES]
)
async def test_a_bad_create_is_refused_and_writes_nothing(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    body: dict[str, Any] | str,
    status: int,
    code: str,
    field: str | None,
) -> None:
    email = f"bad-{uuid.uuid4().hex[:12]}@example.com"
    url = system["order_api"].url + "/com/orders.json"
    headers = {**AUTH, "content-type": "application/json"}

    if isinstance(body, str):
        response = await http.post(url, content=body % email, headers=headers)
    else:
        response = await http.post(url, json=_body(email, **body), headers=headers)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    if field is not None:
        assert field in problem_fields(problem)
    assert await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE email = $1", email) == 0


# (case, update body, status, code, field)
UPDATES: Final[list[tuple[str, dict[str, Any], int, str, str]]] = [
    ("line items", {"line_items": [{**ITEM, "quantity": 5}]}, 422, "immutable_field", "line_items"),
    ("currency", {"currency": "EUR"}, 422, "immutable_field", "currency"),
    ("unknown field", {"quantity": 5}, 422, "unknown_field", "quantity"),
    ("another order's id", {"id": 1, "note": "x"}, 422, "validation_error", "id"),
    ("nothing", {}, 422, "nothing_to_change", "order"),
    ("email as a number", {"email": 5}, 422, "validation_error", "email"),
    ("a customer other than its own or null", {"customer": {"id": 207119551}}, 422, "immutable_field", "customer"),
    ("41-character tag", {"tags": "x" * 41}, 422, "tag_too_long", "tags"),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"), [case[1:] for case in UPDATES], ids=[case[0] for case in UPDATES]
)
async def test_a_bad_update_is_refused_and_changes_nothing(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    api = system["order_api"].url
    order = await create_order(http, api, {"email": f"bad-{uuid.uuid4().hex[:12]}@example.com", "line_items": [ITEM]})

    response = await http.put(f"{api}/com/orders/{order['id']}.json", json={"order": body}, headers=AUTH)

    assert response.status_code == status, response.text
    assert (response.json()["code"], problem_fields(response.json())) == (code, [field])
    assert await admin_db.fetchval("SELECT sequence FROM order_api.orders WHERE id = $1", order["id"]) == 1


# (case, path and query, field)
QUERIES: Final = [
    ("malformed ids", "/com/orders.json?ids=1,x", "ids"),
    ("empty id in ids", "/com/orders.json?ids=1,,2", "ids"),
    ("an id too large", "/com/orders.json?ids=" + "9" * 5000, "ids"),
    ("limit 0", "/com/orders.json?limit=0", "limit"),
    ("limit 251", "/com/orders.json?limit=251", "limit"),
    ("page 0", "/com/orders.json?page=0", "page"),
    ("negative since_id", "/com/orders.json?since_id=-1", "since_id"),
    ("a date in words", "/com/orders.json?created_at_min=yesterday", "created_at_min"),
    ("an impossible date", "/com/orders/count.json?updated_at_max=2015-02-30", "updated_at_max"),
    ("a zone name without its offset", "/com/orders.json?processed_at_min=2005-07-31 15:57:11 EDT", "processed_at_min"),
    ("unknown financial status", "/com/orders.json?financial_status=free", "financial_status"),
    ("unknown fulfillment status", "/com/orders/count.json?fulfillment_status=lost", "fulfillment_status"),
    ("unknown status", "/com/orders.json?status=deleted", "status"),
    ("unknown field", "/com/orders.json?fields=id,colour", "fields"),
    ("unknown field on one order", "/com/orders/1.json?fields=colour", "fields"),
]


@pytest.mark.parametrize(("path", "field"), [case[1:] for case in QUERIES], ids=[case[0] for case in QUERIES])
async def test_a_bad_query_names_the_parameter(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, path: str, field: str
) -> None:
    response = await http.get(system["order_api"].url + path, headers=AUTH)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert problem_fields(response.json()) == [field]


async def test_a_malformed_if_match_is_400_and_changes_nothing(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    api = system["order_api"].url
    order = await create_order(http, api, {"email": f"bad-{uuid.uuid4().hex[:12]}@example.com", "line_items": [ITEM]})

    responses = [
        await http.post(
            f"{api}/com/orders/{order['id']}/close.json",
            headers=[(b"authorization", AUTH["authorization"].encode()), (b"if-match", tag)],
        )
        for tag in (b"soon", '"²"'.encode(), b'"' + b"9" * 5000 + b'"')
    ]

    assert [(response.status_code, response.json()["code"]) for response in responses] == [
        (400, "invalid_if_match")
    ] * 3
    assert await admin_db.fetchval("SELECT sequence FROM order_api.orders WHERE id = $1", order["id"]) == 1
