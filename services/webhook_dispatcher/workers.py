"""The dispatcher's background work: the sender, on the shared work queue, and the retention purges
(history, Idempotency-Keys), the backlog gauges, the endpoint statistics' metrics and the recoveries'
announcements (operational.py), on the shared periodic job.

Any number of senders (tasks or processes) share the backlog: the service's claim takes due messages
with SKIP LOCKED under a lease (total timeout + `lease_margin_seconds`), so a message claimed by an
instance that died is sent again once the lease has run out. The claim loop never waits for a send:
each claimed message is sent by a task of its own (`Courier.send`), at most `sender_concurrency` at
once, and per endpoint no more than its own connection pool takes (none while its breaker rests it).
What this instance's fan-out wrote claimed for it (handoff.py) is sent the same way as soon as its
transaction commits, without a claim.
"""

import asyncio
import time
from collections.abc import Callable, Sequence

import asyncpg
from prometheus_client import Counter, Gauge

from services.webhook_dispatcher.delivery import Courier, HttpClient
from services.webhook_dispatcher.domain import Delivery
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.http_client import ConnectionPool
from services.webhook_dispatcher.request_keys import RequestKeys
from services.webhook_dispatcher.safe_http import Destinations
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.stats import EndpointStats
from services.webhook_dispatcher.stats_metrics import export_endpoint_stats
from services.webhook_dispatcher.store import MESSAGES_CHANNEL
from shared.periodic import run_periodically
from shared.runtime import Runtime
from shared.work_queue import WorkQueue

PENDING = Gauge("webhook_messages_pending", "Messages not delivered yet (due or scheduled), per endpoint", ["endpoint"])
OLDEST_DUE_AGE = Gauge(
    "webhook_oldest_due_message_age_seconds", "How long the oldest due message has waited (0: none)", ["endpoint"]
)
FAILING_FOR = Gauge("webhook_endpoint_failing_seconds", "How long deliveries have been failing (0: not)", ["endpoint"])
CLAIMED = Counter("webhook_messages_claimed_total", "Messages this sender claimed (first attempts and retries)")
ENDPOINTS = Gauge("webhook_endpoints", "Endpoints by state: healthy, failing (enabled), disabled", ["state"])


class Sender:
    """Claims due messages, and takes those the fan-out handed over, and has the courier send each,
    until cancelled."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: DispatcherSettings,
        new_client: Callable[[], HttpClient],
        handoff: Handoff | None = None,
    ) -> None:
        self._service = WebhookService(pool, settings)
        self._courier = Courier(self._service, settings, new_client)
        self._idle_seconds = settings.endpoint_idle_seconds
        self._concurrency = settings.sender_concurrency
        self._endpoint_concurrency = settings.endpoint_concurrency
        self._handoff = handoff or Handoff(settings.lease)
        # Messages handed over may wait for a slot behind a full endpoint's requests (each done within
        # the total timeout) when the lease leaves that long on top of their own request.
        self._queued = (
            settings.endpoint_concurrency if settings.lease_margin_seconds >= settings.total_timeout_seconds else 0
        )
        self._queue = WorkQueue(
            pool,
            name="webhooks",
            channel=MESSAGES_CHANNEL,  # a fan-out NOTIFYs on commit: a new message goes without polling delay
            claim=self._claim,
            process=self._courier.send,
            concurrency=settings.sender_concurrency,
            batch_size=settings.sender_batch_size,
            poll_interval=settings.sender_poll_interval_seconds,
            describe=lambda delivery: {"message_id": delivery.message_id},
            notified=self._handoff.committed,
            finished=self._may_free_claims,
        )
        self._claimed_last = False  # whether the last claim found any message

    async def run(self) -> None:
        endpoints = self._courier.endpoints
        self._handoff.attach(
            lambda endpoint_id: endpoints.room(endpoint_id, time.monotonic(), self._queued),
            lambda: self._concurrency - self._queue.in_flight,
            self._queue.add,
        )
        sweeping = asyncio.create_task(
            run_periodically(
                "free idle webhook endpoints", lambda: endpoints.evict_idle(time.monotonic()), self._idle_seconds / 2
            )
        )
        try:
            await self._queue.run()
        finally:
            self._handoff.detach()
            sweeping.cancel()
            await asyncio.gather(sweeping, return_exceptions=True)
            await endpoints.close()

    async def _claim(self, limit: int) -> Sequence[Delivery]:
        in_flight = self._handoff.in_flight(self._courier.endpoints.in_flight(time.monotonic()))
        claimed = await self._service.claim_due(limit, in_flight)
        CLAIMED.inc(len(claimed))
        self._claimed_last = bool(claimed)
        return claimed

    def _may_free_claims(self, delivery: Delivery) -> bool:
        """Whether a claim may find more now that `delivery` is done: when the last one found any (it
        may have taken no more than a cap allowed), when the next of an order was waiting for it, or
        when its endpoint was full. Otherwise its slot waits for a NOTIFY or the poll."""
        if self._claimed_last or delivery.ordered:
            return True
        in_hand = self._handoff.in_flight(self._courier.endpoints.in_flight(time.monotonic()))
        return in_hand.get(delivery.endpoint_id, 0) + 1 >= self._endpoint_concurrency


async def send_webhooks(runtime: Runtime[DispatcherSettings], handoff: Handoff | None = None) -> None:
    settings = runtime.settings
    destinations = Destinations(settings.allowed_subnets, require_https=settings.require_https)

    def new_client() -> HttpClient:
        return ConnectionPool(
            destinations, connect_timeout=settings.connect_timeout_seconds, max_idle=settings.endpoint_concurrency
        )

    await Sender(runtime.pool, settings, new_client, handoff).run()


async def purge_old_history(runtime: Runtime[DispatcherSettings]) -> None:
    service = WebhookService(runtime.pool, runtime.settings)
    await run_periodically("purge webhook history", service.purge_history, runtime.settings.retention_interval_seconds)


async def announce_recoveries(runtime: Runtime[DispatcherSettings]) -> None:
    service = WebhookService(runtime.pool, runtime.settings)
    await run_periodically(
        "announce webhook endpoint recoveries",
        service.announce_recoveries,
        runtime.settings.recovery_check_interval_seconds,
    )


async def purge_expired_request_keys(runtime: Runtime[DispatcherSettings]) -> None:
    """The admin API's expired Idempotency-Keys, as often as the kernel tables are purged."""
    keys, settings = RequestKeys(runtime.pool), runtime.settings
    await run_periodically(
        "purge webhook idempotency keys",
        lambda: keys.purge(settings.table_purge_batch_rows),
        settings.table_purge_interval_seconds,
    )


async def export_endpoint_statistics(runtime: Runtime[DispatcherSettings]) -> None:
    stats = EndpointStats(runtime.pool)
    await run_periodically(
        "webhook endpoint metrics", lambda: export_endpoint_stats(stats), runtime.settings.metrics_interval_seconds
    )


async def export_endpoint_backlog(runtime: Runtime[DispatcherSettings]) -> None:
    service = WebhookService(runtime.pool, runtime.settings)
    await run_periodically(
        "webhook backlog metrics", lambda: export_backlog(service), runtime.settings.metrics_interval_seconds
    )


async def export_backlog(service: WebhookService) -> None:
    """Put each endpoint's backlog, oldest due message and failing streak, and the endpoints per state,
    on /metrics. Every instance reads the same tables, so they all report the same figures."""
    rows = await service.endpoint_backlog()
    # Replaced whole between two scrapes (nothing awaits in between): a deleted endpoint's series go.
    for gauge in (PENDING, OLDEST_DUE_AGE, FAILING_FOR):
        gauge.clear()
    for row in rows:
        if not (row["enabled"] or row["pending"]):
            continue  # a disabled endpoint with nothing waiting is only counted
        endpoint = str(row["id"])
        PENDING.labels(endpoint).set(row["pending"])
        OLDEST_DUE_AGE.labels(endpoint).set(row["oldest_due_seconds"])
        FAILING_FOR.labels(endpoint).set(row["failing_seconds"])
    failing = sum(1 for row in rows if row["enabled"] and row["failing_seconds"] > 0)
    healthy = sum(1 for row in rows if row["enabled"]) - failing
    disabled = len(rows) - healthy - failing
    for state, count in (("healthy", healthy), ("failing", failing), ("disabled", disabled)):
        ENDPOINTS.labels(state).set(count)
