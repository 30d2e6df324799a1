"""Payload expunge: an operator deletes a settled message's payload, for a support or a privacy
request, and the dispatcher keeps the rest (ids, event type, times, status, attempts) with when and by
which API key it was expunged. Later reads show the payload as expunged; a retry or a recovery no
longer sends the message (there is nothing left to send).

A pending message (due, being sent, or waiting for a retry) is refused: its payload is what its next
attempt sends. An order's erasure (erasure.py) masks personal data in every message of the order
automatically; an expunge deletes one message's payload whole, whatever it holds, on request.
"""

import uuid
from typing import Protocol

from services.webhook_dispatcher import expunge_store as postgres_store
from services.webhook_dispatcher.domain import MessageNotFound, MessagePending
from services.webhook_dispatcher.service import Database, Row
from shared.db import Connection
from shared.logging import get_logger

log = get_logger(__name__)


class ExpungeStore(Protocol):
    """What the expunge needs of the dispatcher's tables: expunge_store.py's functions."""

    async def expunge_payload(
        self, conn: Connection, endpoint_id: uuid.UUID, message_id: int, by: str
    ) -> Row | None: ...

    async def fetch_message(self, conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> Row | None: ...


class MessageContents:
    def __init__(self, db: Database, *, store: ExpungeStore = postgres_store) -> None:
        self._db = db
        self._store = store

    async def message(self, endpoint_id: uuid.UUID, message_id: int) -> Row:
        """One message of the endpoint, with its payload (empty once expunged) and attempts."""
        async with self._db.acquire() as conn:
            row = await self._store.fetch_message(conn, endpoint_id, message_id)
        if row is None:
            raise MessageNotFound(endpoint_id, message_id)
        return row

    async def expunge(self, endpoint_id: uuid.UUID, message_id: int, *, by: str) -> None:
        """Delete the message's payload (and its subscriber's answers, which may echo it), noting `by`
        (the operator's API key id). Expunging an expunged message changes nothing. MessagePending
        while it is still to be sent."""
        async with self._db.acquire() as conn:
            row = await self._store.expunge_payload(conn, endpoint_id, message_id, by)
        if row is None:
            raise MessageNotFound(endpoint_id, message_id)
        if row["payload_expunged_at"] is None:
            raise MessagePending(message_id)
        log.info("message payload expunged", message_id=message_id, endpoint_id=str(endpoint_id), by=by)
