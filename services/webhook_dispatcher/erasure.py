"""The dispatcher's part of an anonymized order's erasure (issue 10 design, section 5): every stored
message of the order, delivered or pending, rewritten with the masked snapshot (so a pending one is
delivered masked, never as it was), its attempts' response excerpts cleared, its own published outbox
rows deleted, and an `erasure.completed` receipt through the outbox.

The masked snapshot comes with `order.anonymized` on orders.events, which the fan-out consumes; the
request with `erasure.requested` on anonymization.events: no order between the two, so whichever is
second erases (a request that finds no snapshot waits in `erasures_waiting`). Once the snapshot is
kept, what is fanned out of the order later from another topic is masked before it is stored. Both
run in their consumer's transaction; an advisory lock per order keeps them from missing each other.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from services.webhook_dispatcher import erasure_store as postgres_store
from services.webhook_dispatcher.domain import MaskedOrder, erased_payload, masked_order
from shared import outbox as postgres_outbox
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.erasure import ErasureRequested
from shared.erasure_receipts import receipt
from shared.events import Envelope, Event
from shared.logging import get_logger
from shared.services import WEBHOOK_DISPATCHER
from shared.topics import ANONYMIZATION_EVENTS

log = get_logger(__name__)


class ErasureStore(Protocol):
    """What the erasure needs of the dispatcher's tables: erasure_store.py's functions."""

    async def lock_order(self, conn: Connection, order_id: str, *, shared: bool = False) -> None: ...

    async def keep_anonymized(self, conn: Connection, order_id: str, masked: MaskedOrder) -> None: ...

    async def anonymized(self, conn: Connection, order_id: str) -> MaskedOrder | None: ...

    async def wait_for_snapshot(self, conn: Connection, order_id: str, request: dict[str, Any]) -> None: ...

    async def take_waiting(self, conn: Connection, order_id: str) -> dict[str, Any] | None: ...

    async def order_messages(self, conn: Connection, order_id: str) -> Sequence[tuple[int, bytes]]: ...

    async def rewrite_payloads(self, conn: Connection, payloads: Sequence[tuple[int, bytes]]) -> int: ...

    async def clear_response_excerpts(self, conn: Connection, order_id: str) -> int: ...

    async def erase_outbox(self, conn: Connection, order_id: str) -> dict[str, int]: ...


class Outbox(Protocol):
    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


class ErasureService:
    def __init__(
        self,
        *,
        store: ErasureStore = postgres_store,
        outbox: Outbox = postgres_outbox,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._clock = clock

    async def order_anonymized(self, conn: Connection, event: Envelope) -> None:
        """Keep the masked snapshot `order.anonymized` carries; erase now if an erasure waits for it."""
        try:
            masked = masked_order(event.data_json)
        except ValueError as error:
            raise Unprocessable(f"{event.type}: {error}") from error
        await self._store.lock_order(conn, event.subject)
        await self._store.keep_anonymized(conn, event.subject, masked)
        waiting = await self._store.take_waiting(conn, event.subject)
        if waiting is not None:
            kept = await self._store.anonymized(conn, event.subject)  # the newest kept, maybe not this one
            assert kept is not None, "kept just now"
            await self._erase(conn, ErasureRequested.model_validate(waiting), kept)

    async def erase_order(self, conn: Connection, request: ErasureRequested) -> dict[str, int] | None:
        """Erase the order's messages and answer with the receipt; the rows touched, by table. None when
        its snapshot has not arrived yet: the request waits for it (and is answered then)."""
        order_id = str(request.order_id)
        await self._store.lock_order(conn, order_id)
        masked = await self._store.anonymized(conn, order_id)
        if masked is None:
            await self._store.wait_for_snapshot(conn, order_id, request.model_dump(mode="json"))
            log.info("erasure waits for the order's anonymized snapshot", attempt=request.attempt)
            return None
        return await self._erase(conn, request, masked)

    async def masked_body(self, conn: Connection, order_id: str, body: bytes) -> bytes:
        """`body` as it may be stored for the order: masked once the order is anonymized. For an event
        from a topic other than the order's own orders.events partition (which delivers
        `order.anonymized` in sequence with the order's other events)."""
        await self._store.lock_order(conn, order_id, shared=True)
        masked = await self._store.anonymized(conn, order_id)
        if masked is None:
            return body
        return erased_payload(body, masked) or body

    async def _erase(self, conn: Connection, request: ErasureRequested, masked: MaskedOrder) -> dict[str, int]:
        """Erase the (locked) order's messages with its kept masked snapshot, and enqueue the receipt."""
        order_id = str(request.order_id)
        outbox = await self._store.erase_outbox(conn, order_id)
        rewritten = [
            (message_id, erased)
            for message_id, payload in await self._store.order_messages(conn, order_id)
            if (erased := erased_payload(payload, masked)) is not None
        ]
        rows = {
            "messages": await self._store.rewrite_payloads(conn, rewritten),
            "attempts": await self._store.clear_response_excerpts(conn, order_id),
            **outbox,
        }
        # After the erasure: the receipt's own row is not yet published, and stays.
        await self._outbox.enqueue(
            conn, ANONYMIZATION_EVENTS, receipt(request, WEBHOOK_DISPATCHER.name, rows, self._clock())
        )
        log.info("order erased", order_id=request.order_id, attempt=request.attempt, rows=rows)
        return rows
