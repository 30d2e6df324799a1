"""The dispatcher's tables and outbox in memory, so its use cases (services/webhook_dispatcher/service.py)
and its courier run in unit tests without I/O. `FakeStore` keeps what store.py keeps, answers with rows
of the same columns (dicts), and notes the calls the tests look at."""

import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any, Unpack, cast

from services.webhook_dispatcher.domain import Channelled, DeliveredAttempt, Delivery, UnsafeDestination, Written
from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.operational import OperationalEvents
from services.webhook_dispatcher.safe_http import Destinations
from services.webhook_dispatcher.service import AttemptLog, MessageQuery, WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.store import UPDATABLE, Fanned, Filters
from shared.db import Connection
from shared.events import Event
from shared.tracing import TRACEPARENT, TRACESTATE, TraceContext
from shared.tracking import Tracking
from tests.support.webhook_erasure_fakes import FakeErasureStore

ENDPOINT_COLUMNS = (
    "id",
    "url",
    "description",
    "event_types",
    "channels",
    "rate_limit",
    "ordered",
    "headers",
    "enabled",
    "disabled_reason",
    "created_at",
    "updated_at",
    "public_key",
    "operational",
)
MESSAGE_COLUMNS = (
    "id",
    "endpoint_id",
    "event_id",
    "event_type",
    "order_id",
    "channels",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "delivered_at",
    "payload_expunged_at",
)
ATTEMPT_COLUMNS = ("attempted_at", "response_status", "latency_ms", "error", "response_excerpt")
# What the fake DNS answers by default: a public address, which the dispatcher may send to.
PUBLIC_HOSTS = {"subscriber.example": ["93.184.216.34"]}
# The transaction every fan-out on the fake store writes in, as its commit's NOTIFY would name it.
FAKE_TRANSACTION = "1"


class FakeConnection:
    """Stands in for a connection: the fakes hold no uncommitted state, so a transaction is a no-op."""

    @asynccontextmanager
    async def transaction(self, **options: object) -> AsyncIterator[None]:  # isolation, readonly: moot here
        yield


class FakeDatabase:
    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        yield cast(Connection, FakeConnection())


def fake_dns(hosts: Mapping[str, list[str]] = PUBLIC_HOSTS) -> Destinations:
    """Destinations as the dispatcher vets them (loopback allowed, as locally), resolving through
    `hosts` instead of the network; IP literals stand for themselves."""

    async def resolve(host: str, port: int) -> list[str]:
        try:
            return [str(ip_address(host.strip("[]")))]
        except ValueError:
            pass
        if host not in hosts:
            raise UnsafeDestination(f"{host} does not resolve")
        return hosts[host]

    settings = DispatcherSettings()
    return Destinations(settings.allowed_subnets, require_https=settings.require_https, resolver=resolve)


class FakeStore:
    """store.py's tables, and the outbox, in memory. Rows are dicts with store.py's columns."""

    def __init__(self) -> None:
        self.endpoints: dict[uuid.UUID, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.attempt_logs: dict[int, list[dict[str, Any]]] = {}
        # What the tests look at: each record_attempt's arguments, each endpoint disabled (with the
        # reason), each failure counted against an endpoint, each event enqueued.
        self.attempts: list[dict[str, Any]] = []
        self.disabled: list[tuple[uuid.UUID, str]] = []
        self.failures: list[uuid.UUID] = []
        self.events: list[tuple[str, Event]] = []
        self.processed: set[uuid.UUID] = set()  # tracking rows a fan-out wrote with its messages
        self._message_ids = itertools.count(1)
        self.erasure = FakeErasureStore(self.messages, self.attempt_logs)

    # ---- set-up helpers ------------------------------------------------------------------------

    def add_endpoint(self, endpoint_id: uuid.UUID | None = None, **fields: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        endpoint = {
            "id": endpoint_id or uuid.uuid4(),
            "url": "https://subscriber.example/hooks",
            "description": "",
            "event_types": [],
            "channels": [],
            "rate_limit": None,
            "ordered": False,
            "headers": {},
            "secret": "whsec_x",
            "previous_secret": None,
            "previous_secret_expires_at": None,
            "enabled": True,
            "disabled_reason": None,
            "failing_since": None,
            "public_key": None,
            "operational": False,
            "failure_reported_at": None,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        self.endpoints[endpoint["id"]] = endpoint
        return _columns(endpoint, ENDPOINT_COLUMNS)

    def add_message(self, endpoint_id: uuid.UUID, **fields: Any) -> int:
        """A message as the fan-out writes it: pending and due."""
        message_id = next(self._message_ids)
        now = datetime.now(UTC)
        self.messages[message_id] = {
            "id": message_id,
            "endpoint_id": endpoint_id,
            "event_id": uuid.uuid4(),
            "event_type": "order.created",
            "order_id": "42",
            "channels": [],
            "correlation_id": None,
            "traceparent": None,
            "tracestate": None,
            "payload": b"{}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "delivered_at": None,
            "payload_expunged_at": None,
            **fields,
        }
        self.attempt_logs[message_id] = []
        return message_id

    # ---- endpoints -----------------------------------------------------------------------------

    async def insert_endpoint(self, conn: Connection, fields: Mapping[str, Any], secret: str) -> dict[str, Any]:
        return self.add_endpoint(
            **{name: fields[name] for name in UPDATABLE if name in fields},
            secret=secret,
            public_key=fields.get("public_key"),
            operational=fields.get("operational", False),
        )

    async def fetch_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> dict[str, Any] | None:
        endpoint = self.endpoints.get(endpoint_id)
        return None if endpoint is None else _columns(endpoint, ENDPOINT_COLUMNS)

    async def list_endpoints(self, conn: Connection) -> list[dict[str, Any]]:
        ordered = sorted(self.endpoints.values(), key=lambda endpoint: (endpoint["created_at"], endpoint["id"]))
        return [_columns(endpoint, ENDPOINT_COLUMNS) for endpoint in ordered]

    async def update_endpoint(
        self, conn: Connection, endpoint_id: uuid.UUID, changes: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        assert set(changes) <= UPDATABLE, changes
        return self._change(endpoint_id, **changes)

    async def delete_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> bool:
        for message_id in [key for key, message in self.messages.items() if message["endpoint_id"] == endpoint_id]:
            del self.messages[message_id], self.attempt_logs[message_id]
        return self.endpoints.pop(endpoint_id, None) is not None

    async def enable_endpoint(self, conn: Connection, endpoint_id: uuid.UUID) -> dict[str, Any] | None:
        return self._change(endpoint_id, enabled=True, disabled_reason=None, failing_since=None)

    async def disable_endpoint(self, conn: Connection, endpoint_id: uuid.UUID, reason: str) -> dict[str, Any] | None:
        self.disabled.append((endpoint_id, reason))
        return self._disable(endpoint_id, reason)

    async def rotate_secret(
        self, conn: Connection, endpoint_id: uuid.UUID, secret: str, public_key: str | None, grace: timedelta
    ) -> dict[str, Any] | None:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            return None
        expires_at = datetime.now(UTC) + grace
        previous = endpoint["secret"]
        row = self._change(
            endpoint_id,
            previous_secret=previous,
            previous_secret_expires_at=expires_at,
            secret=secret,
            public_key=public_key,
        )
        return {**(row or {}), "previous_secret_expires_at": expires_at}

    async def endpoint_failed(
        self, conn: Connection, endpoint_id: uuid.UUID, disable_after: timedelta
    ) -> dict[str, Any] | None:
        self.failures.append(endpoint_id)
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            return None
        endpoint["failing_since"] = endpoint["failing_since"] or datetime.now(UTC)
        if endpoint["failing_since"] > datetime.now(UTC) - disable_after:
            return None
        return self._disable(endpoint_id, "failing")

    # ---- messages ------------------------------------------------------------------------------

    async def enabled_endpoint_filters(self, conn: Connection) -> Filters:
        endpoints = [
            {"id": e["id"], "event_types": e["event_types"], "channels": e["channels"]}
            for e in self.endpoints.values()
            if e["enabled"] and not e["operational"]
        ]
        return Filters(self._filters_version(), endpoints)

    def _filters_version(self) -> int:
        """Changes with any endpoint's filters, however a test changed them (as migration 0009's counter)."""
        return hash(
            tuple(
                (e["id"], e["enabled"], e["operational"], tuple(e["event_types"]), tuple(e["channels"]))
                for e in self.endpoints.values()
            )
        )

    async def insert_messages(
        self,
        conn: Connection,
        endpoint_ids: Sequence[uuid.UUID],
        event: Channelled,
        payload: bytes,
        trace: TraceContext,
        *,
        leased: Sequence[uuid.UUID],
        lease: timedelta,
    ) -> Written:
        taken = {(message["endpoint_id"], message["event_id"]) for message in self.messages.values()}
        now = datetime.now(UTC)
        inserted, handed = 0, []
        for endpoint_id in endpoint_ids:
            endpoint = self.endpoints.get(endpoint_id)
            if endpoint is None or (endpoint_id, event.id) in taken:
                continue
            claimed = endpoint_id in leased and not endpoint["ordered"]
            message_id = self.add_message(
                endpoint_id,
                event_id=event.id,
                event_type=event.type,
                order_id=event.subject,
                channels=list(event.channels),
                correlation_id=event.correlation_id,
                payload=payload,
                traceparent=trace.get(TRACEPARENT),
                tracestate=trace.get(TRACESTATE),
                attempts=int(claimed),
                next_attempt_at=now + lease if claimed else now,
            )
            inserted += 1
            if claimed:
                handed.append(_delivery(self.messages[message_id], endpoint, now))
        return Written(FAKE_TRANSACTION, inserted, handed)

    async def insert_fanned(
        self,
        conn: Connection,
        fanned: Sequence[Fanned],
        lease: timedelta,
        filters_version: int | None = None,
        tracking: Tracking | None = None,
    ) -> Written | None:
        if filters_version is not None and filters_version != self._filters_version():
            return None
        recorded: frozenset[uuid.UUID] = frozenset()
        if tracking is not None:
            recorded = frozenset(event.id for event in tracking.events if event.id not in self.processed)
            self.processed |= recorded
            fanned = [one for one in fanned if one.event.id in recorded]
        written = [
            await self.insert_messages(
                conn, one.endpoint_ids, one.event, one.payload, one.trace, leased=one.leased, lease=lease
            )
            for one in fanned
        ]
        inserted = sum(one.inserted for one in written)
        return Written(FAKE_TRANSACTION, inserted, [d for one in written for d in one.leased], recorded)

    async def insert_test_message(
        self, conn: Connection, endpoint_id: uuid.UUID, event_id: uuid.UUID, event_type: str, payload: bytes
    ) -> dict[str, Any]:
        message_id = self.add_message(
            endpoint_id, event_id=event_id, event_type=event_type, order_id="", payload=payload
        )
        return _columns(self.messages[message_id], MESSAGE_COLUMNS)

    async def list_messages(self, conn: Connection, **query: Unpack[MessageQuery]) -> list[dict[str, Any]]:
        endpoint_id, event_id, status = query.get("endpoint_id"), query.get("event_id"), query.get("status")
        channel, since, until = query.get("channel"), query.get("since"), query.get("until")
        wanted = [
            message
            for message in self.messages.values()
            if endpoint_id in (None, message["endpoint_id"])
            and event_id in (None, message["event_id"])
            and status in (None, message["status"])
            and (channel is None or channel in message["channels"])
            and (since is None or message["created_at"] >= since)
            and (until is None or message["created_at"] < until)
        ]
        wanted.sort(key=lambda message: (message["created_at"], message["id"]), reverse=True)
        return [
            {**_columns(message, MESSAGE_COLUMNS), "attempt_log": list(self.attempt_logs[message["id"]])}
            for message in wanted[: query.get("limit", 100)]
        ]

    async def retry_message(self, conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> dict[str, Any] | None:
        message = self.messages.get(message_id)
        if message is None or message["endpoint_id"] != endpoint_id or message["payload_expunged_at"] is not None:
            return None
        message.update(status="pending", next_attempt_at=datetime.now(UTC))
        return _columns(message, MESSAGE_COLUMNS)

    async def payload_expunged(self, conn: Connection, endpoint_id: uuid.UUID, message_id: int) -> bool:
        message = self.messages.get(message_id)
        return (
            message is not None and message["endpoint_id"] == endpoint_id and message["payload_expunged_at"] is not None
        )

    async def recover(self, conn: Connection, endpoint_id: uuid.UUID, since: datetime) -> int:
        failed = [
            message
            for message in self.messages.values()
            if message["endpoint_id"] == endpoint_id
            and message["status"] == "failed"
            and message["created_at"] >= since
            and message["payload_expunged_at"] is None
        ]
        for message in failed:
            message.update(status="pending", next_attempt_at=datetime.now(UTC))
        return len(failed)

    # ---- delivery ------------------------------------------------------------------------------

    async def claim_due(
        self, conn: Connection, limit: int, lease: timedelta, *, in_flight: Mapping[uuid.UUID, int], per_endpoint: int
    ) -> list[Delivery]:
        """Due messages of enabled endpoints, oldest first, within each endpoint's room; on an ordered
        endpoint none while an earlier one of its order is pending."""
        now = datetime.now(UTC)
        pending = sorted(
            (message for message in self.messages.values() if message["status"] == "pending"),
            key=lambda message: (message["next_attempt_at"], message["id"]),
        )
        room = {endpoint_id: per_endpoint - in_flight.get(endpoint_id, 0) for endpoint_id in self.endpoints}
        claimed: list[Delivery] = []
        for message in pending:
            endpoint = self.endpoints[message["endpoint_id"]]
            if len(claimed) == limit or message["next_attempt_at"] > now or not endpoint["enabled"]:
                continue
            if room[endpoint["id"]] <= 0 or (endpoint["ordered"] and _waits(message, pending)):
                continue
            room[endpoint["id"]] -= 1
            message.update(attempts=message["attempts"] + 1, next_attempt_at=now + lease)
            claimed.append(_delivery(message, endpoint, now))
        return claimed

    async def record_attempt(self, conn: Connection, delivery: Delivery, **fields: Unpack[AttemptLog]) -> None:
        self.attempts.append({"delivery": delivery, **fields})
        message = self.messages.get(delivery.message_id)
        if message is not None:
            delivered = fields["outcome"] == "delivered"
            message.update(status=fields["outcome"], delivered_at=datetime.now(UTC) if delivered else None)
            if fields["retry_in"] is not None:
                message["next_attempt_at"] = datetime.now(UTC) + fields["retry_in"]
            logged = {"attempted_at": datetime.now(UTC), **fields}
            self.attempt_logs[message["id"]].append({name: logged[name] for name in ATTEMPT_COLUMNS})
        if fields["outcome"] == "delivered" and delivery.endpoint_id in self.endpoints:
            self.endpoints[delivery.endpoint_id]["failing_since"] = None

    async def record_deliveries(self, conn: Connection, delivered: Sequence[DeliveredAttempt]) -> None:
        for delivery, answer, latency_ms in delivered:
            await self.record_attempt(
                conn,
                delivery,
                response_status=answer.status,
                latency_ms=latency_ms,
                error=None,
                response_excerpt=answer.excerpt,
                outcome="delivered",
                retry_in=None,
            )

    async def purge(self, conn: Connection, older_than: timedelta) -> tuple[int, int]:
        cutoff = datetime.now(UTC) - older_than
        old = [
            key
            for key, message in self.messages.items()
            if message["created_at"] < cutoff and message["status"] != "pending"
        ]
        for key in old:  # with their attempts, which the count below leaves out, as store.py's does
            del self.messages[key], self.attempt_logs[key]
        attempts = 0
        for log in self.attempt_logs.values():
            kept = [attempt for attempt in log if attempt["attempted_at"] >= cutoff]
            attempts, log[:] = attempts + len(log) - len(kept), kept
        return len(old), attempts

    async def endpoint_backlog(self, conn: Connection) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        rows = []
        for endpoint_id, endpoint in sorted(self.endpoints.items()):
            mine = [m for m in self.messages.values() if m["endpoint_id"] == endpoint_id]
            pending = [m for m in mine if m["status"] == "pending"]
            due = [m["next_attempt_at"] for m in pending if m["next_attempt_at"] <= now]
            failing_since = endpoint["failing_since"]
            rows.append(
                {
                    "id": endpoint_id,
                    "enabled": endpoint["enabled"],
                    "pending": len(pending),
                    "oldest_due_seconds": (now - min(due)).total_seconds() if due else 0.0,
                    "failing_seconds": (now - failing_since).total_seconds() if failing_since else 0.0,
                }
            )
        return rows

    # ---- operational webhooks (operational_store.py) ---------------------------------------------

    async def operator_filters(self, conn: Connection, about: uuid.UUID) -> list[dict[str, Any]]:
        if about in self.endpoints and self.endpoints[about]["operational"]:
            return []
        return [
            {"id": e["id"], "event_types": e["event_types"], "channels": e["channels"]}
            for e in self.endpoints.values()
            if e["enabled"] and e["operational"]
        ]

    async def note_failure_reported(self, conn: Connection, endpoint_id: uuid.UUID) -> None:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is not None and endpoint["failure_reported_at"] is None:
            endpoint["failure_reported_at"] = datetime.now(UTC)

    async def take_recovered(self, conn: Connection, limit: int) -> list[dict[str, Any]]:
        recovered = [
            e
            for e in self.endpoints.values()
            if e["failure_reported_at"] is not None
            and e["enabled"]
            and e["failing_since"] is None
            and any(
                m["endpoint_id"] == e["id"]
                and m["status"] == "delivered"
                and m["delivered_at"] > e["failure_reported_at"]
                for m in self.messages.values()
            )
        ][:limit]
        rows = [{"id": e["id"], "url": e["url"], "failure_reported_at": e["failure_reported_at"]} for e in recovered]
        for endpoint in recovered:
            endpoint["failure_reported_at"] = None
        return rows

    # ---- the outbox ----------------------------------------------------------------------------

    async def enqueue(self, conn: Connection, topic: str, event: Event) -> None:
        self.events.append((topic, event))

    def _change(self, endpoint_id: uuid.UUID, **changes: Any) -> dict[str, Any] | None:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            return None
        endpoint.update(changes, updated_at=datetime.now(UTC))
        return _columns(endpoint, ENDPOINT_COLUMNS)

    def _disable(self, endpoint_id: uuid.UUID, reason: str) -> dict[str, Any] | None:
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None or not endpoint["enabled"]:
            return None
        self._change(endpoint_id, enabled=False, disabled_reason=reason)
        return _columns(endpoint, (*ENDPOINT_COLUMNS, "failing_since"))


def _columns(row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    return {column: row[column] for column in columns}


def _waits(message: Mapping[str, Any], pending: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        other["endpoint_id"] == message["endpoint_id"]
        and other["order_id"] == message["order_id"]
        and other["id"] < message["id"]
        for other in pending
    )


def _delivery(message: Mapping[str, Any], endpoint: Mapping[str, Any], now: datetime) -> Delivery:
    rotating = endpoint["previous_secret_expires_at"] is not None and endpoint["previous_secret_expires_at"] > now
    return Delivery(
        message_id=message["id"],
        event_id=message["event_id"],
        event_type=message["event_type"],
        correlation_id=message["correlation_id"],
        payload=message["payload"],
        attempt=message["attempts"],
        endpoint_id=endpoint["id"],
        url=endpoint["url"],
        secret=endpoint["secret"],
        order_id=message["order_id"],
        previous_secret=endpoint["previous_secret"] if rotating else None,
        headers=endpoint["headers"],
        rate_limit=endpoint["rate_limit"],
        ordered=endpoint["ordered"],
        traceparent=message["traceparent"],
        tracestate=message["tracestate"],
    )


def in_memory_service(
    store: FakeStore, settings: DispatcherSettings | None = None, *, hosts: Mapping[str, list[str]] = PUBLIC_HOSTS
) -> WebhookService:
    """The dispatcher's use cases on `store` (its tables and outbox), resolving names through `hosts`."""
    return WebhookService(
        FakeDatabase(),
        settings or DispatcherSettings(),
        store=store,
        outbox=store,
        destinations=fake_dns(hosts),
        erasures=ErasureService(store=store.erasure, outbox=store),
        operational=OperationalEvents(store=store, outbox=store),
    )
