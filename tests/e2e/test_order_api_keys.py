"""The order API's API keys and scopes, against the running service: who may read, change, name a
customer or see one, and what needs no key at all."""

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.order_facts import CustomerFact
from tests.e2e.conftest import READ_ONLY_KEY, WRITE_ONLY_KEY
from tests.support.order_api_facts import apply_facts, fact
from tests.support.storefront import (
    CREATE_PATH,
    LIST_PATH,
    assert_problem,
    bearer,
    order_body,
    orders_with_email,
    unique_email,
)

# ---- API keys and scopes --------------------------------------------------------------------------


async def test_a_missing_or_unknown_api_key_is_401_with_a_bearer_challenge(api: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:
        for headers in ({}, bearer("not-a-key"), {"authorization": "Basic dXNlcjpwYXNz"}):
            for response in (
                await anonymous.get(api + LIST_PATH, headers=headers),
                await anonymous.post(api + CREATE_PATH, json=order_body(), headers=headers),
                await anonymous.get(api + "/orders", headers=headers),
            ):
                assert_problem(response, 401, "unauthorized")
                assert response.headers["www-authenticate"] == "Bearer"


async def test_each_scope_allows_its_methods_and_is_403_for_the_others(api: str, admin_db: asyncpg.Connection) -> None:
    email = unique_email("scopes")
    async with httpx.AsyncClient(timeout=20.0) as client:
        assert (await client.get(api + LIST_PATH, headers=bearer(READ_ONLY_KEY))).status_code == 200
        assert (await client.get(api + "/orders", headers=bearer(READ_ONLY_KEY))).status_code == 200
        refused = await client.post(api + CREATE_PATH, json=order_body(email=email), headers=bearer(READ_ONLY_KEY))
        assert "orders:write" in assert_problem(refused, 403, "forbidden")["detail"]
        assert await orders_with_email(admin_db, email) == 0

        created = await client.post(api + CREATE_PATH, json=order_body(email=email), headers=bearer(WRITE_ONLY_KEY))
        assert created.status_code == 201, created.text
        order_id = created.json()["order"]["id"]
        for path in (f"/com/orders/{order_id}.json", LIST_PATH, f"/orders/{order_id}"):
            read = await client.get(api + path, headers=bearer(WRITE_ONLY_KEY))
            assert "orders:read" in assert_problem(read, 403, "forbidden")["detail"]
        closed = await client.post(api + f"/com/orders/{order_id}/close.json", headers=bearer(WRITE_ONLY_KEY))
        assert closed.status_code == 200, closed.text


async def test_refresh_reads_an_order_so_it_needs_the_read_scope_though_it_is_a_post(api: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as client:
        created = await client.post(api + CREATE_PATH, json=order_body(email=unique_email("refresh")),
                                    headers=bearer(WRITE_ONLY_KEY))  # fmt: skip
        refresh = f"{api}/orders/{created.json()['order']['id']}/refresh"

        refused = await client.post(refresh, headers=bearer(WRITE_ONLY_KEY))
        allowed = await client.post(refresh, headers=bearer(READ_ONLY_KEY))

    assert "orders:read" in assert_problem(refused, 403, "forbidden")["detail"]
    assert allowed.status_code == 200, allowed.text


@pytest.fixture
async def account(stack: tuple[str, str], admin_db: asyncpg.Connection) -> CustomerFact:
    """A registered customer account, as the customer service publishes it."""
    run = uuid.uuid4().hex[:12]
    customer = CustomerFact(
        id=8 * 10**17 + uuid.uuid4().int % 10**15,
        email=f"Account-{run}@Example.com",
        first_name="Regina",
        last_name="Registered",
        phone="+1 555 0100",
        note="VIP since 2019",
    )
    await apply_facts(stack[1], admin_db, [fact("customer.upserted", customer, customer.id)])
    return customer


async def customer_of(admin_db: asyncpg.Connection, order_id: int) -> int | None:
    customer_id: int | None = await admin_db.fetchval(
        "SELECT customer_id FROM order_api.orders WHERE id = $1", order_id
    )
    return customer_id


async def test_naming_a_customer_by_id_needs_the_read_scope_too(
    api: str, admin_db: asyncpg.Connection, account: CustomerFact
) -> None:
    email = unique_email("by-id")

    def haravan(customer_id: int) -> dict[str, Any]:
        return {"order": {**order_body(email=email)["order"], "customer": {"id": customer_id}}}

    digital_river = {"email": email, "customerId": account.id, "items": [{"name": "C", "price": "5.00", "quantity": 1}]}
    async with httpx.AsyncClient(timeout=20.0, headers=bearer(WRITE_ONLY_KEY)) as write_only:
        refused = [
            (await write_only.post(api + CREATE_PATH, json=haravan(account.id)), "customer.id"),
            # An unknown id is refused alike: such a caller learns nothing about which customers there are.
            (await write_only.post(api + CREATE_PATH, json=haravan(1)), "customer.id"),
            (await write_only.post(api + "/orders", json=digital_river), "customerId"),
        ]

    for response, field in refused:
        assert "orders:read" in assert_problem(response, 403, "forbidden", field=field)["detail"]
    assert await orders_with_email(admin_db, email) == 0


async def test_an_email_never_attaches_an_order_to_a_registered_account(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection, account: CustomerFact
) -> None:
    email = account.email or ""
    new_customer = {"email": email.upper(), "first_name": "Paul"}
    haravan = await http.post(
        api + CREATE_PATH, json={"order": {**order_body()["order"], "email": None, "customer": new_customer}}
    )
    digital_river = await http.post(
        api + "/orders", json={"email": email.lower(), "items": [{"name": "Cable", "price": "5.00", "quantity": 1}]}
    )
    async with httpx.AsyncClient(timeout=20.0, headers=bearer(WRITE_ONLY_KEY)) as write_only:
        unread = await write_only.post(api + CREATE_PATH, json=order_body(email=email))

    assert haravan.status_code == digital_river.status_code == unread.status_code == 201
    shown = haravan.json()["order"]
    assert (shown["guest"], shown["email"], shown["customer"]["first_name"]) == (True, email.upper(), "Paul")
    assert (shown["customer"]["note"], shown["customer"]["orders_count"]) == (None, 1)
    assert digital_river.json()["customerId"] != account.id
    for order_id in (shown["id"], digital_river.json()["id"], unread.json()["order"]["id"]):
        assert await customer_of(admin_db, order_id) != account.id


async def test_a_caller_without_the_read_scope_is_never_shown_a_customer_record(
    api: str, http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    # An earlier buyer's order made the checkout record for this email, with their name and phone.
    email = unique_email("checkout")
    buyer = {"email": email, "first_name": "Earl", "last_name": "Ier", "phone": "+1 555 0199"}
    earlier = await http.post(
        api + CREATE_PATH, json={"order": {**order_body(email=email)["order"], "customer": buyer}}
    )
    assert earlier.status_code == 201, earlier.text
    async with httpx.AsyncClient(timeout=20.0, headers=bearer(WRITE_ONLY_KEY)) as write_only:
        created = await write_only.post(api + CREATE_PATH, json=order_body(email=email))
        digital_river = await write_only.post(
            api + "/orders", json={"email": email, "items": [{"name": "Cable", "price": "5.00", "quantity": 1}]}
        )
        order_id = created.json()["order"]["id"]
        noted = await write_only.put(f"{api}/com/orders/{order_id}.json", json={"order": {"note": "ring twice"}})
        closed = await write_only.post(f"{api}/com/orders/{earlier.json()['order']['id']}/close.json")

    for response in (created, noted, closed):
        assert response.status_code in (200, 201), response.text
        assert response.json()["order"]["customer"] is None
        assert "Earl" not in response.text
        assert "555 0199" not in response.text  # the phone (a bare "0199" may be in an id)
    assert (digital_river.status_code, digital_river.json()["customerId"]) == (201, None)
    assert created.json()["order"]["email"] == email
    # The order did join the email's checkout record; a caller that may read sees it.
    record = await customer_of(admin_db, earlier.json()["order"]["id"])
    assert await customer_of(admin_db, order_id) == record
    read = (await http.get(f"{api}/com/orders/{order_id}.json")).json()["order"]["customer"]
    assert (read["id"], read["first_name"], read["orders_count"]) == (
        record,
        "Earl",
        2,
    )


async def test_guest_lookup_health_metrics_and_docs_need_no_key(api: str) -> None:
    async with httpx.AsyncClient(timeout=20.0) as anonymous:
        for path in ("/health/live", "/health/ready", "/metrics", "/docs", "/openapi.json"):
            assert (await anonymous.get(api + path)).status_code == 200, path
        lookup = await anonymous.post(
            api + "/users/orders/anonymous/",
            json={"number": "1", "email": "nobody@example.com"},
            headers={"x-forwarded-for": "198.51.100.1"},
        )
        assert_problem(lookup, 404, "order_not_found")


async def test_openapi_declares_the_bearer_scheme_and_idempotency_keys_on_keyed_routes_and_a_tag_per_dialect(
    api: str, http: httpx.AsyncClient
) -> None:
    document = (await http.get(api + "/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]
    tags: set[str] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            tags.update(operation.get("tags", []))
            keyed = path.startswith(("/com/", "/orders", "/v2/"))
            assert bool(operation.get("security")) == keyed, (method, path)
            if keyed:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if keyed and method == "post":
                assert "Idempotency-Key" in [parameter["name"] for parameter in operation["parameters"]], path
    assert {"Haravan orders", "Digital River orders", "Akinon guest orders", "Elastic Path orders"} <= tags
