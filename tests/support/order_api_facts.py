"""Feeding order_api facts the way other services do (records on `orders.ingest`), waiting until it
applied them (their event ids are in its `processed_events`), and reading what it published."""

import uuid
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import httpx

from deploy.demo_catalog import demo_facts, ingest_record, publish
from shared.auth import LOCAL_API_KEY
from shared.events import Event
from shared.orders import OrderLifecycleData, Snapshot
from shared.topics import ORDERS_EVENTS
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.storefront import CREATE_PATH

AUTH: Final = {"authorization": f"Bearer {LOCAL_API_KEY}"}


def fact(event_type: str, data: Snapshot, subject: int | str) -> Event:
    """An `orders.ingest` fact from a test standing in for another service; `subject` is its key."""
    return Event.new(event_type, "tests", str(subject), data)


async def applied_count(admin_db: asyncpg.Connection, event_ids: Sequence[uuid.UUID]) -> int:
    count: int = await admin_db.fetchval(
        "SELECT count(*) FROM order_api.processed_events WHERE event_id = ANY($1::uuid[])", list(event_ids)
    )
    return count


async def wait_applied(admin_db: asyncpg.Connection, events: Sequence[Event], timeout: float = 60.0) -> None:
    """Every one of `events` was applied (a duplicate of an applied one never is: it is skipped)."""
    ids = list({event.id for event in events})
    await eventually(lambda: applied_count(admin_db, ids), lambda count: count == len(ids), timeout=timeout)


async def apply_facts(bootstrap: str, admin_db: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Publish `events` in order and wait until order_api applied them all."""
    await publish(bootstrap, [ingest_record(event) for event in events])
    await wait_applied(admin_db, events)


async def seed_demo_catalog(bootstrap: str, admin_db: asyncpg.Connection) -> None:
    """The launcher's demo catalog (deploy/demo_catalog.py), applied by the running order_api."""
    await apply_facts(bootstrap, admin_db, demo_facts())


async def order_events(bootstrap: str, order: dict[str, Any], expect: int) -> list[tuple[str, int, OrderLifecycleData]]:
    """What order_api published on `orders.events` about `order` (as the API answered it), in order:
    (type, ce_sequence, data). Waits for `expect` of them; any more already there are returned too, so a
    duplicate shows. Matched by id and token: a stack shared with other databases may reuse order ids."""
    subject, token = str(order["id"]).encode(), order["token"].encode()

    def about_order(record: Any) -> bool:
        return record.key == subject and token in record.value

    records = await read_records(bootstrap, ORDERS_EVENTS, about_order, expect=expect)
    return [
        (
            header(record, "ce_type") or "",
            int(header(record, "ce_sequence") or 0),
            OrderLifecycleData.model_validate_json(record.value),
        )
        for record in sorted(records, key=lambda record: record.offset)  # one key: one partition
    ]


TEAPOTS: Final = {"title": "Teapot", "price": "25.00", "quantity": 2}  # a custom item: 50.00 USD


def unpaid_order(*line_items: dict[str, Any]) -> dict[str, Any]:
    """A Haravan create body with an email of its own, awaiting payment (Haravan takes an order created
    without transactions or a status as paid)."""
    return {
        "email": f"ingest-{uuid.uuid4().hex[:12]}@example.com",
        "currency": "USD",
        "financial_status": "pending",
        "line_items": list(line_items),
    }


async def create_order(http: httpx.AsyncClient, api_url: str, order: dict[str, Any]) -> dict[str, Any]:
    """Create an order through the Haravan door; returns the order as answered (201)."""
    response = await http.post(api_url + CREATE_PATH, json={"order": order}, headers=AUTH)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["order"]
    return created


async def get_order(http: httpx.AsyncClient, api_url: str, order_id: int) -> dict[str, Any]:
    response = await http.get(f"{api_url}/com/orders/{order_id}.json", headers=AUTH)
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()["order"]
    return order
