"""The dispatcher's use cases, and the only way to its tables but the fan-out's: the admin API's
endpoint and message operations, and the sender's (claim due messages, record an attempt) and the
retention's.

Each use case opens its connection or transaction, applies the domain's rules, calls the store and
writes operational events to the outbox. What it needs from outside is a Protocol: `Database` (the
pool), `Store` (store.py), `Outbox` (shared/outbox.py), so unit tests run it on in-memory fakes.
Refusals are the domain's exceptions (`EndpointNotFound`, `MessageNotFound`, `PayloadExpunged`,
`UnsafeDestination`, `UnknownEventTypes`); the API words them. The statistics (stats.py), the payload
expunge (expunge.py) and the admin API's Idempotency-Keys (request_keys.py) are use cases of their own.
"""

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, TypedDict, Unpack

from services.webhook_dispatcher import store as postgres_store
from services.webhook_dispatcher.catalogue import check_filters, subscriber_types
from services.webhook_dispatcher.domain import (
    GONE,
    Answer,
    DeliveredAttempt,
    Delivery,
    EndpointNotFound,
    MessageNotFound,
    MessageStatus,
    PayloadExpunged,
    Settlement,
    check_channels,
    new_signing_key,
    public_key_of,
    shown_secret,
    signing_of,
    webhook_body,
)
from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.fan_out import FanOut, FanOutStore
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.operational import MessageWriter, OperationalEvents
from services.webhook_dispatcher.safe_http import Destinations
from services.webhook_dispatcher.settings import DispatcherSettings
from shared import outbox as postgres_outbox
from shared.consumer import BatchHandler
from shared.db import Connection
from shared.events import Envelope, Event
from shared.logging import get_logger
from shared.webhook_events import (
    ENDPOINT_DISABLED,
    MESSAGE_EXHAUSTED,
    WebhookEndpointDisabledData,
    WebhookMessageExhaustedData,
)

log = get_logger(__name__)

TEST_EVENT_TYPE: Final = "webhook.test"


class Row(Protocol):
    """A row the store returns, read by column name: an asyncpg.Record, or a dict in tests."""

    def __getitem__(self, key: str, /) -> Any: ...

    def get(self, key: str, default: Any, /) -> Any: ...


class Database(Protocol):
    """Where the use cases' connections come from: the service's asyncpg pool."""

    def acquire(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...


class MessageQuery(TypedDict, total=False):
    """Which messages `Store.list_messages` returns: every one that matches the filters given."""

    endpoint_id: uuid.UUID | None
    event_id: uuid.UUID | None
    status: str | None
    channel: str | None
    since: datetime | None
    until: datetime | None
    limit: int


class AttemptLog(TypedDict):
    """An attempt as `Store.record_attempt` logs it, with the message's status (`outcome`) after it."""

    response_status: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None
    outcome: str
    retry_in: timedelta | None


class Store(MessageWriter, FanOutStore, Protocol):
    """What the use cases need from the dispatcher's tables: store.py's functions."""

    async def insert_endpoint(self, conn: Connection, fields: Mapping[str, Any], secret: str) -> Row: ...

    async def fetch_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> Row | None: ...

    async def list_endpoints(self, conn: Connection) -> Sequence[Row]: ...

    async def update_endpoint(
        self, conn: Connection, endpoint_id: uuid.UUID, changes: Mapping[str, Any]
    ) -> Row | None: ...

    async def delete_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> bool: ...

    async def enable_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> Row | None: ...

    async def disable_endpoint(self, conn: Connection, endpoint_id: uuid.UUID, reason: str) -> Row | None: ...

    async def rotate_secret(
        self, conn: Connection, endpoint_id: uuid.UUID, secret: str, public_key: str | None, grace: timedelta
    ) -> Row | None: ...

    async def endpoint_failed(
        self, conn: Connection, endpoint_id: uuid.UUID, disable_after: timedelta
    ) -> Row | None: ...

    async def insert_test_message(
        self, conn: Connection, endpoint_id: uuid.UUID, event_id: uuid.UUID, event_type: str, payload: bytes
    ) -> Row: ...

    async def list_messages(self, conn: Connection, **query: Unpack[MessageQuery]) -> Sequence[Row]: ...

    async def retry_message(self, conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> Row | None: ...

    async def payload_expunged(self, conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> bool: ...

    async def recover(self, conn: Connection, endpoint_id: uuid.UUID, since: datetime) -> int: ...

    async def claim_due(
        self, conn: Connection, limit: int, lease: timedelta, *, in_flight: Mapping[uuid.UUID, int], per_endpoint: int
    ) -> Sequence[Delivery]: ...

    async def record_attempt(self, conn: Connection, delivery: Delivery, **attempt: Unpack[AttemptLog]) -> None: ...

    async def record_deliveries(self, conn: Connection, delivered: Sequence[DeliveredAttempt]) -> None: ...

    async def purge(self, conn: Connection, older_than: timedelta) -> tuple[int, int]: ...

    async def endpoint_backlog(self, conn: Connection) -> Sequence[Row]: ...


class Outbox(Protocol):
    """Where operational events go, in the caller's transaction: shared/outbox.py."""

    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None: ...


class WebhookService:
    def __init__(
        self,
        db: Database,
        settings: DispatcherSettings,
        *,
        store: Store = postgres_store,
        outbox: Outbox = postgres_outbox,
        destinations: Destinations | None = None,
        erasures: ErasureService | None = None,
        operational: OperationalEvents | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._store = store
        self._erasures = erasures or ErasureService(outbox=outbox)
        self._operational = operational or OperationalEvents(outbox=outbox)
        self._fan_out = FanOut(store, self._erasures, handoff, settings.lease)
        self._destinations = destinations or Destinations(
            settings.allowed_subnets, require_https=settings.require_https
        )
        # A claimed message is claimed again once its request can no longer be running.
        self._lease = settings.lease

    # ---- endpoints -----------------------------------------------------------------------------

    async def create_endpoint(self, fields: Mapping[str, Any]) -> tuple[Row, str | None]:
        """Register an endpoint at a URL the dispatcher may send to, for event types it can receive (an
        operator endpoint: operational ones), signed as `fields["signing"]` says (HMAC unless given);
        with its new HMAC secret to show (None for ed25519: the row has the public key, and the secret
        key never leaves the dispatcher)."""
        operational = fields.get("operational", False)
        check_filters(fields["event_types"], operational=operational)
        check_channels(fields.get("channels", []), operational=operational)
        await self._destinations.vet_url(fields["url"])
        secret = new_signing_key(fields.get("signing", "hmac-sha256"))
        async with self._db.acquire() as conn:
            row = await self._store.insert_endpoint(conn, {**fields, "public_key": public_key_of(secret)}, secret)
        return row, shown_secret(secret)

    async def list_endpoints(self) -> Sequence[Row]:
        async with self._db.acquire() as conn:
            return await self._store.list_endpoints(conn)

    async def get_endpoint(self, endpoint_id: uuid.UUID) -> Row:
        async with self._db.acquire() as conn:
            return _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)

    async def update_endpoint(self, endpoint_id: uuid.UUID, changes: Mapping[str, Any]) -> Row:
        """Change the given settings; a new URL is vetted like a new endpoint's, new filters too. (An
        endpoint whose filters named a type before the catalogue refused unknown ones keeps them until
        they are changed.)"""
        if "url" in changes:
            await self._destinations.vet_url(changes["url"])
        async with self._db.acquire() as conn:
            endpoint = _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)
            if "event_types" in changes:
                check_filters(changes["event_types"], operational=endpoint["operational"])
            if "channels" in changes:
                check_channels(changes["channels"], operational=endpoint["operational"])
            if not changes:
                return endpoint
            return _found(await self._store.update_endpoint(conn, endpoint_id, changes), endpoint_id)

    async def delete_endpoint(self, endpoint_id: uuid.UUID) -> None:
        async with self._db.acquire() as conn:
            if not await self._store.delete_endpoint(conn, endpoint_id):
                raise EndpointNotFound(endpoint_id)

    async def disable_endpoint(self, endpoint_id: uuid.UUID) -> Row:
        """Stop delivering (messages wait); `webhook.endpoint.disabled` when it was enabled."""
        async with self._db.acquire() as conn, conn.transaction():
            disabled = await self._store.disable_endpoint(conn, endpoint_id, "manual")
            if disabled is not None:
                await self._operational.publish(conn, ENDPOINT_DISABLED, endpoint_id, _disabled_data(disabled))
            return _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)

    async def enable_endpoint(self, endpoint_id: uuid.UUID) -> Row:
        async with self._db.acquire() as conn:
            return _found(await self._store.enable_endpoint(conn, endpoint_id), endpoint_id)

    async def rotate_secret(self, endpoint_id: uuid.UUID) -> tuple[Row, str | None]:
        """A new key of the endpoint's kind (HMAC or ed25519); the current one keeps signing beside it
        until the row's `previous_secret_expires_at`. With the row (`public_key` the new one, for
        ed25519) the new HMAC secret to show, or None."""
        grace = timedelta(seconds=self._settings.secret_rotation_grace_seconds)
        async with self._db.acquire() as conn:
            endpoint = _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)
            secret = new_signing_key(signing_of(endpoint["public_key"]))
            row = await self._store.rotate_secret(conn, endpoint_id, secret, public_key_of(secret), grace)
        return _found(row, endpoint_id), shown_secret(secret)

    async def send_test_message(self, endpoint_id: uuid.UUID) -> Row:
        """Queue a `webhook.test` message for the endpoint, whatever its filter."""
        event_id = uuid.uuid4()
        payload = webhook_body(TEST_EVENT_TYPE, datetime.now(UTC), {"endpoint_id": str(endpoint_id)})
        async with self._db.acquire() as conn, conn.transaction():
            _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)
            return await self._store.insert_test_message(conn, endpoint_id, event_id, TEST_EVENT_TYPE, payload)

    # ---- messages ------------------------------------------------------------------------------

    async def list_endpoint_messages(
        self,
        endpoint_id: uuid.UUID,
        *,
        status: MessageStatus | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[Row]:
        """The endpoint's messages, newest first, each with its attempts; with `channel`, those whose
        event carried it."""
        async with self._db.acquire() as conn:
            _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)
            return await self._store.list_messages(
                conn, endpoint_id=endpoint_id, status=status, channel=channel, since=since, until=until, limit=limit
            )

    async def list_event_messages(self, event_id: uuid.UUID, *, status: MessageStatus | None = None) -> Sequence[Row]:
        """Every endpoint's message for one event, with attempts."""
        async with self._db.acquire() as conn:
            return await self._store.list_messages(conn, event_id=event_id, status=status)

    async def retry_message(self, endpoint_id: uuid.UUID, message_id: int) -> Row:
        """Send the message again now (one more attempt), whatever its status; not one whose payload was
        expunged."""
        async with self._db.acquire() as conn:
            row = await self._store.retry_message(conn, endpoint_id, message_id)
            if row is None and await self._store.payload_expunged(conn, endpoint_id, message_id):
                raise PayloadExpunged(message_id)
        if row is None:
            raise MessageNotFound(endpoint_id, message_id)
        return row

    async def recover(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        """Re-send every failed message of the endpoint created since `since`; how many."""
        async with self._db.acquire() as conn:
            _found(await self._store.fetch_endpoint(conn, endpoint_id), endpoint_id)
            return await self._store.recover(conn, endpoint_id, since)

    # ---- fan-out -------------------------------------------------------------------------------

    async def fan_out(self, conn: Connection, event: Envelope) -> None:
        """One message per matching endpoint, in the caller's transaction (the one that records the
        event as processed) and trace context: fan_out.py."""
        await self._fan_out.fan_out(conn, event)

    def fan_out_handler(self, transaction_records: int) -> BatchHandler[Envelope]:
        """The consumer's handler: a transaction's events fanned out set-based (fan_out.py)."""
        return self._fan_out.handler(transaction_records)

    @staticmethod
    def offered_event_types() -> list[str]:
        """The event types endpoints can subscribe to: the customer-facing families of the contract."""
        return subscriber_types()

    # ---- delivery ------------------------------------------------------------------------------

    async def claim_due(self, limit: int, in_flight: Mapping[uuid.UUID, int]) -> Sequence[Delivery]:
        """Up to `limit` due messages for this instance, leased to it: per endpoint no more than
        `endpoint_concurrency` less what `in_flight` says it has there already."""
        async with self._db.acquire() as conn, conn.transaction():
            return await self._store.claim_due(
                conn, limit, self._lease, in_flight=in_flight, per_endpoint=self._settings.endpoint_concurrency
            )

    async def record_deliveries(self, delivered: Sequence[DeliveredAttempt]) -> None:
        """Log delivered attempts and settle their messages delivered (ending their endpoints' failing
        streaks), all in one statement: what `record_attempt` does for one delivered attempt."""
        async with self._db.acquire() as conn:
            await self._store.record_deliveries(conn, delivered)

    async def record_attempt(
        self, delivery: Delivery, answer: Answer, settlement: Settlement, *, latency_ms: int
    ) -> None:
        """Log an attempt and settle its message. A failure also counts against the endpoint (410 or
        failing too long disables it) and, with the schedule spent, publishes
        `webhook.message.exhausted`: all in the attempt's transaction."""
        failed = settlement.status != "delivered"
        async with self._db.acquire() as conn, contextlib.AsyncExitStack() as scope:
            if failed:  # a delivery is one statement; a failure has follow-ups
                await scope.enter_async_context(conn.transaction())
            await self._store.record_attempt(
                conn,
                delivery,
                response_status=answer.status,
                latency_ms=latency_ms,
                error=answer.error,
                response_excerpt=answer.excerpt,
                outcome=settlement.status,
                retry_in=settlement.retry_in,
            )
            if failed:
                await self._after_failure(conn, delivery, settlement.status, answer)

    async def purge_history(self) -> None:
        """Retention: delete settled messages and attempts older than `retention_days`."""
        async with self._db.acquire() as conn:
            messages, attempts = await self._store.purge(conn, timedelta(days=self._settings.retention_days))
        if messages or attempts:
            log.info("webhook history purged", messages=messages, attempts=attempts)

    async def endpoint_backlog(self) -> Sequence[Row]:
        """Per endpoint: `id`, `enabled`, `pending` messages, and in
        seconds how long the oldest due one has been due (`oldest_due_seconds`) and how long the
        endpoint has been failing (`failing_seconds`); 0 when none."""
        async with self._db.acquire() as conn:
            return await self._store.endpoint_backlog(conn)

    async def _after_failure(self, conn: Connection, delivery: Delivery, status: MessageStatus, answer: Answer) -> None:
        if answer.status == GONE:
            disabled = await self._store.disable_endpoint(conn, delivery.endpoint_id, "gone")
        else:
            disable_after = timedelta(seconds=self._settings.disable_after_failing_seconds)
            disabled = await self._store.endpoint_failed(conn, delivery.endpoint_id, disable_after)
        if disabled is not None:
            await self._operational.report_failure(
                conn, ENDPOINT_DISABLED, delivery.endpoint_id, _disabled_data(disabled)
            )
        if status == "failed" and answer.status != GONE:
            data = WebhookMessageExhaustedData(
                message_id=delivery.message_id,
                endpoint_id=delivery.endpoint_id,
                url=delivery.url,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                order_id=delivery.order_id,
                attempts=delivery.attempt,
                last_response_status=answer.status,
                last_error=answer.error,
            )
            await self._operational.report_failure(conn, MESSAGE_EXHAUSTED, delivery.endpoint_id, data)

    async def announce_recoveries(self) -> None:
        """`webhook.endpoint.recovered` for the endpoints reported failing that have delivered since."""
        async with self._db.acquire() as conn, conn.transaction():
            announced = await self._operational.announce_recoveries(conn)
        if announced:
            log.info("webhook endpoint recoveries announced", endpoints=announced)


def _disabled_data(endpoint: Row) -> WebhookEndpointDisabledData:
    """What `webhook.endpoint.disabled` says of an endpoint the store just disabled (its row, with
    `failing_since`)."""
    return WebhookEndpointDisabledData(
        endpoint_id=endpoint["id"],
        url=endpoint["url"],
        reason=endpoint["disabled_reason"],
        failing_since=endpoint["failing_since"],
    )


def _found(row: Row | None, endpoint_id: uuid.UUID) -> Row:
    if row is None:
        raise EndpointNotFound(endpoint_id)
    return row
