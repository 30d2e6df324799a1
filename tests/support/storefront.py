"""Orders as a storefront sends them, and the checks several tests make on what followed."""

import asyncio
import uuid
from collections import Counter
from typing import Any, Final

import asyncpg
import httpx

from tests.support.polling import eventually

CREATE_PATH = "/com/orders.json"
LIST_PATH: Final = "/com/orders.json"
PROBLEM_JSON: Final = "application/problem+json"


def order_body(email: str = "jane@example.com", price: str = "199.00", quantity: int = 2) -> dict[str, Any]:
    """A Haravan create request for a custom (non-catalog) item."""
    return {
        "order": {
            "email": email,
            "currency": "USD",
            "line_items": [{"title": "IPod Touch 8GB", "price": price, "quantity": quantity}],
        }
    }


def addressed_order_body(email: str, address: dict[str, str], **order_fields: Any) -> dict[str, Any]:
    """`order_body` with a customer named as `address` names its person, billed and shipped to that
    address, and `order_fields` besides (a phone, a browser IP, a financial status)."""
    body = order_body(email=email)
    customer = {"first_name": address["first_name"], "last_name": address["last_name"], "email": email}
    body["order"] |= {
        "customer": customer,
        "billing_address": address,
        "shipping_address": address,
        **order_fields,
    }
    return body


async def create_orders(http: httpx.AsyncClient, api_url: str, count: int, concurrency: int = 16) -> list[int]:
    """Create `count` orders over HTTP; every answer must be 201. Returns their ids in creation order."""
    slots = asyncio.Semaphore(concurrency)

    async def create(index: int) -> int:
        async with slots:
            response = await http.post(api_url + CREATE_PATH, json=order_body(email=f"buyer{index}@example.com"))
        assert response.status_code == 201, response.text
        order_id: int = response.json()["order"]["id"]
        return order_id

    return sorted(await asyncio.gather(*(create(index) for index in range(count))))


async def audit_counts(admin_db: asyncpg.Connection, order_ids: list[int]) -> Counter[int]:
    """How many times the anonymizer applied an event for each order (its append-only audit log)."""
    rows = await admin_db.fetch(
        "SELECT order_id, count(*) AS n FROM anonymizer.audit_log WHERE order_id = ANY($1::bigint[]) GROUP BY 1",
        order_ids,
    )
    return Counter({row["order_id"]: row["n"] for row in rows})


async def wait_applied_once(admin_db: asyncpg.Connection, order_ids: list[int], timeout: float = 90.0) -> None:
    """Every order's `order.created` reached the anonymizer and was applied exactly once."""
    counts = await eventually(
        lambda: audit_counts(admin_db, order_ids), lambda seen: len(seen) == len(order_ids), timeout=timeout
    )
    await asyncio.sleep(1.0)  # let any duplicate in flight land before counting
    counts = await audit_counts(admin_db, order_ids)
    assert set(counts) == set(order_ids)
    assert {order_id: n for order_id, n in counts.items() if n != 1} == {}


async def unsent_outbox_rows(admin_db: asyncpg.Connection, order_ids: list[int]) -> int:
    count: int = await admin_db.fetchval(
        "SELECT count(*) FROM order_api.outbox WHERE sent_at IS NULL AND key = ANY($1::text[])",
        [str(order_id) for order_id in order_ids],
    )
    return count


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


def problem_fields(problem: dict[str, Any]) -> list[str]:
    """The fields a problem document names: each error's `field`, or, in the Haravan dialect's Shopify
    shape (`{"errors": {"attribute": ["message"]}}`), its attributes."""
    errors = problem.get("errors")
    if isinstance(errors, dict):
        return list(errors)
    return [error["field"] for error in errors or []]


def assert_problem(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """`response` is a problem document with this status and code, naming `field` among its errors."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    if field is not None:
        assert field in problem_fields(problem)
    return problem


async def orders_with_email(admin_db: asyncpg.Connection, email: str) -> int:
    count: int = await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE email = $1", email)
    return count


async def events_of(admin_db: asyncpg.Connection, order_id: int) -> list[str]:
    """The event types order_api wrote to its outbox about the order, in order."""
    rows = await admin_db.fetch(
        """SELECT (SELECT h->>1 FROM jsonb_array_elements(headers) h WHERE h->>0 = 'ce_type') AS type
           FROM order_api.outbox WHERE key = $1 ORDER BY id""",
        str(order_id),
    )
    return [row["type"] for row in rows]
