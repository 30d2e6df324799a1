"""Driving the cancellation worker through Kafka as order_api would, and reading what came of it: its
ledger and requests (its schema), what it published (cancellations.events, payments.commands,
orders.ingest), what the payments sandbox counted and answered."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from shared.auth import LOCAL_API_KEY
from shared.events import Event
from shared.orders import OrderSnapshot
from shared.topics import CANCELLATIONS_EVENTS, CANCELLATIONS_REQUESTS, ORDERS_EVENTS, ORDERS_INGEST, PAYMENTS_COMMANDS
from tests.support.cancellations import lifecycle
from tests.support.kafka import header, read_records
from tests.support.polling import eventually
from tests.support.webhooks import publish

ADMIN = {"authorization": f"Bearer {LOCAL_API_KEY}"}


@dataclass(frozen=True)
class Published:
    type: str
    source: str
    data: dict[str, Any]
    raw: bytes


async def on_topic(
    bootstrap: str, topic: str, order_id: int, expect: int, *, source: str | None = None
) -> list[Published]:
    """What went on `topic` about the order (keyed by its id), in order; at least `expect` of them."""
    key = str(order_id).encode()

    def wanted(record: Any) -> bool:
        return bool(record.key == key and (source is None or header(record, "ce_source") == source))

    records = await read_records(bootstrap, topic, wanted, expect=expect)
    return [
        Published(header(r, "ce_type") or "", header(r, "ce_source") or "", json.loads(r.value), r.value)
        for r in sorted(records, key=lambda record: record.offset)
    ]


class OrderApiStandIn:
    """Publishes an order's lifecycle events (numbered in turn) and guest submissions, as order_api's
    relay would, and waits until the worker processed them."""

    def __init__(self, stack: tuple[str, str], admin_db: asyncpg.Connection) -> None:
        self.bootstrap = stack[1]
        self.db = admin_db
        self.sequences: dict[int, int] = {}

    async def order(self, order: OrderSnapshot, event_type: str = "order.updated", *, wait: bool = True) -> Event:
        self.sequences[order.id] = self.sequences.get(order.id, 0) + 1
        event = lifecycle(order, self.sequences[order.id], event_type)
        await publish(self.bootstrap, [event], ORDERS_EVENTS)
        if wait:
            await self.processed([event])
        return event

    async def submit(self, event: Event, *, wait: bool = True) -> None:
        await publish(self.bootstrap, [event], CANCELLATIONS_REQUESTS)
        if wait:
            await self.processed([event])

    async def processed(self, events: Sequence[Event], timeout: float = 60.0) -> None:
        ids = [event.id for event in events]
        await eventually(
            lambda: self.db.fetchval(
                "SELECT count(*) FROM cancellation.processed_events WHERE event_id = ANY($1::uuid[])", ids
            ),
            lambda count: count == len(ids),
            timeout=timeout,
        )

    async def ledger(self, order_id: int) -> list[asyncpg.Record]:
        return await self.db.fetch(
            """SELECT entry_type, idempotency_key, refund_id, kind, method, amount::text AS amount, error
               FROM cancellation.ledger_entries WHERE order_id = $1 ORDER BY position""",
            order_id,
        )

    async def ledger_until(self, order_id: int, entries: int) -> list[asyncpg.Record]:
        return await eventually(lambda: self.ledger(order_id), lambda rows: len(rows) >= entries)

    async def answers(self, order_id: int, expect: int) -> list[Published]:
        """The payments sandbox's answers about the order on orders.ingest."""
        return await on_topic(self.bootstrap, ORDERS_INGEST, order_id, expect, source="payments_sandbox")

    async def events(self, order_id: int, expect: int) -> list[Published]:
        return await on_topic(self.bootstrap, CANCELLATIONS_EVENTS, order_id, expect)

    async def commands(self, order_id: int, expect: int) -> list[Published]:
        return await on_topic(self.bootstrap, PAYMENTS_COMMANDS, order_id, expect)

    async def facts(self, order_id: int, expect: int) -> list[Published]:
        """What the worker told order_api on orders.ingest."""
        return await on_topic(self.bootstrap, ORDERS_INGEST, order_id, expect, source="cancellation_worker")


async def sandbox_saw(http: httpx.AsyncClient, sandbox_url: str, key: uuid.UUID | str) -> dict[str, Any]:
    response = await http.get(f"{sandbox_url}/commands/{key}")
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    return seen


async def sandbox_keys(http: httpx.AsyncClient, sandbox_url: str, order_id: int) -> list[dict[str, Any]]:
    response = await http.get(f"{sandbox_url}/commands", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()
    return keys
