"""The dispatcher's erasure tables in memory (services/webhook_dispatcher/erasure_store.py), over the
messages and attempt logs of a `FakeStore` (tests/support/webhook_fakes.py), so the erasure's use cases
run in unit tests without I/O."""

from collections.abc import Sequence
from typing import Any

from services.webhook_dispatcher.domain import MaskedOrder
from shared.db import Connection


class FakeErasureStore:
    def __init__(self, messages: dict[int, dict[str, Any]], attempt_logs: dict[int, list[dict[str, Any]]]) -> None:
        self.messages = messages  # the FakeStore's, by id
        self.attempt_logs = attempt_logs
        self.anonymized_orders: dict[str, MaskedOrder] = {}
        self.waiting: dict[str, dict[str, Any]] = {}
        # What the tests look at: each lock taken (order id, shared), each outbox erasure.
        self.locks: list[tuple[str, bool]] = []
        self.outbox_erased: list[str] = []

    async def lock_order(self, conn: Connection, order_id: str, *, shared: bool = False) -> None:
        self.locks.append((order_id, shared))

    async def keep_anonymized(self, conn: Connection, order_id: str, masked: MaskedOrder) -> None:
        kept = self.anonymized_orders.get(order_id)
        if kept is None or kept.sequence < masked.sequence:
            self.anonymized_orders[order_id] = masked

    async def anonymized(self, conn: Connection, order_id: str) -> MaskedOrder | None:
        return self.anonymized_orders.get(order_id)

    async def wait_for_snapshot(self, conn: Connection, order_id: str, request: dict[str, Any]) -> None:
        kept = self.waiting.get(order_id)
        if kept is None or kept["attempt"] <= request["attempt"]:
            self.waiting[order_id] = request

    async def take_waiting(self, conn: Connection, order_id: str) -> dict[str, Any] | None:
        return self.waiting.pop(order_id, None)

    async def order_messages(self, conn: Connection, order_id: str) -> list[tuple[int, bytes]]:
        return [
            (key, message["payload"])
            for key, message in sorted(self.messages.items())
            if message["order_id"] == order_id
        ]

    async def rewrite_payloads(self, conn: Connection, payloads: Sequence[tuple[int, bytes]]) -> int:
        for message_id, payload in payloads:
            self.messages[message_id]["payload"] = payload
        return len(payloads)

    async def clear_response_excerpts(self, conn: Connection, order_id: str) -> int:
        cleared = 0
        for key, message in self.messages.items():
            if message["order_id"] == order_id:
                for attempt in self.attempt_logs[key]:
                    if attempt["response_excerpt"] is not None:
                        attempt["response_excerpt"], cleared = None, cleared + 1
        return cleared

    async def erase_outbox(self, conn: Connection, order_id: str) -> dict[str, int]:
        """The fake outbox does not tell published rows from unsent ones: nothing to delete."""
        self.outbox_erased.append(order_id)
        return {"outbox": 0, "outbox_dead_letters": 0}
