"""The composition every service shares: pool, producer, broker, relay, HTTP app, health, metrics.

A service's `__main__` declares what it has (routes, subscriptions, background workers, whether it
publishes) and `create_app` wires the plumbing in the same order everywhere (tracing too, when an
OTLP endpoint is configured: shared/tracing.py). Start-up survives Kafka being away (the producer and
broker connect in the background; readiness says so), and SIGTERM drains: uvicorn finishes in-flight
requests, the broker finishes the message in hand and commits, the relay publishes what is
committed, then everything closes (buffered spans are exported last).
"""

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

import asyncpg
import uvicorn
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Request
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from starlette.middleware import Middleware

from shared.api_docs import install_api_docs
from shared.auth import ApiKeySettings, AuthenticationMiddleware, KeyRing
from shared.body_limit import BodyLimitMiddleware
from shared.consumer import Applier, BatchHandler, Decoder, IdempotentConsumer, KafkaRecord, ReceivedT, TypeFilter
from shared.consumer_lag import report_consumer_lag
from shared.db import create_pool
from shared.direct_subscription import DirectSubscription
from shared.events import Envelope, Event, decode_event, decode_forwardable
from shared.http_protocol import OneWriteHttpProtocol
from shared.kafka import CONSUMER_METADATA_MAX_AGE_MS, EventProducer, bootstrap_list
from shared.key_rate_limit import (
    KeyRateLimitMiddleware,
    limits_keys,
)
from shared.logging import (
    configure_logging,
    get_logger,
)
from shared.migrations import apply_migrations
from shared.operations_routes import operations_router
from shared.outbox import OutboxRelay, export_backlog
from shared.periodic import run_periodically
from shared.problems import EDGE_RESPONSES, install_problem_handlers
from shared.request_context import RequestContextMiddleware
from shared.retention import KernelRetention
from shared.services import ServiceSpec
from shared.settings import ServiceSettings
from shared.static_routes import StaticRoutes
from shared.tracing import configure_tracing

log = get_logger(__name__)


# Of a stop's grace period (`shutdown_grace_seconds`), uvicorn lets in-flight requests finish for the
# first third; the consumers, the outbox relay, the producer and the pool then share the rest.
SHUTDOWN_SHARE_FOR_HTTP: Final = 1 / 3
SHUTDOWN_SHARE_AFTER_HTTP: Final = 1 - SHUTDOWN_SHARE_FOR_HTTP
# Allocations between two young garbage collections (see `lifespan`).
YOUNG_COLLECTION_ALLOCATIONS: Final = 20_000
# How long a batched subscription's empty poll waits for records (see `_subscribe`).
BATCH_POLL_MS: Final = 50
# A gathering subscription's fetch is answered once this much is there or its `gather_ms` ran out: a
# backlog comes at once, a trickle in one batch per `gather_ms` (see `Runtime.subscribe`).
GATHER_BYTES: Final = 256 * 1024
# How long the broker holds a fetch that finds nothing, for a subscription that does not gather (aiokafka's
# default; a record arriving meanwhile is answered at once).
IDLE_FETCH_WAIT_MS: Final = 500


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass
class Runtime(Generic[SettingsT]):
    """What a service's routes, handlers and workers share while it runs, typed by the service's own
    settings."""

    spec: ServiceSpec
    settings: SettingsT
    pool: asyncpg.Pool
    producer: EventProducer
    broker: KafkaBroker
    consumer: IdempotentConsumer
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)  # every topic its subscriptions consume
    direct: list[DirectSubscription] = field(default_factory=list)  # subscriptions polled without FastStream

    def subscribe(
        self,
        topics: Sequence[str],
        handler: Applier[Event],
        *,
        batch_records: int | None = None,
        types: Collection[str] | None = None,
    ) -> None:
        """Consume `topics` in the service's group through the idempotent consumer: each record is an
        Event of a known type with valid data (else it is dead-lettered).

        `handler` applies one event, or is a BatchHandler (a transaction's events at once, set-based).
        With `batch_records`, up to that many records are taken per poll and processed in order, many
        in one transaction (`IdempotentConsumer.process_batch`; a batch that fails is processed again
        record by record), and the batch's offsets are committed after the last one: an error rewinds
        to the batch's start, and the records already committed are then skipped as duplicates. A
        handler's row locks are held until its batch's transaction commits.

        With `types`, only records of those event types are processed; the others are skipped by their
        `ce_type` header, unparsed and without a transaction or a `processed_events` row (their offsets
        are committed all the same). For a subscription that needs a few types of a busy topic.

        A BatchHandler with `gather_ms` lets its batches gather: the broker answers a fetch once
        `GATHER_BYTES` are there or after `gather_ms`, and an empty poll waits as long; a record may wait
        that much longer, and a stream of records comes in one batch per `gather_ms` instead of one per
        relay pass (per batch: a fetch, a transaction, an offset commit).
        """
        self._subscribe(topics, handler, decode_event, batch_records, types)

    def subscribe_forwarding(
        self,
        topics: Sequence[str],
        handler: Applier[Envelope],
        *,
        batch_records: int | None = None,
        types: Collection[str] | None = None,
        direct: bool = False,
    ) -> None:
        """As `subscribe`, for a service that passes events on: each record is an Envelope with its
        data as published, of any type, known to this build or not. `direct` (with `batch_records`):
        polled with aiokafka itself instead of FastStream, for latency (shared/direct_subscription.py)."""
        self._subscribe(topics, handler, decode_forwardable, batch_records, types, direct=direct)

    def _subscribe(
        self,
        topics: Sequence[str],
        handler: Applier[ReceivedT],
        decode: Decoder[ReceivedT],
        batch_records: int | None,
        types: Collection[str] | None,
        *,
        direct: bool = False,
    ) -> None:
        self.topics.update(topics)
        consumer = self.consumer
        only = TypeFilter(types) if types is not None else None
        if direct:
            if batch_records is None:
                raise ValueError("a direct subscription takes batches: give batch_records")

            async def process(records: Sequence[KafkaRecord]) -> None:
                await consumer.process_batch(records, handler, decode, only=only)

            self.direct.append(DirectSubscription(self.settings, self.spec.name, topics, process, batch_records))
            return
        batch = batch_records is not None
        gather_ms = handler.gather_ms if isinstance(handler, BatchHandler) else 0

        # `batch` is a bool here, not one of the Literal overloads, so mypy sees the decorator as untyped.
        @self.broker.subscriber(  # type: ignore[untyped-decorator]
            *topics,
            group_id=self.settings.consumer_group,
            auto_offset_reset="earliest",
            # Dynamic membership: a member that stops leaves the group at once (a static member would
            # not, so scaling in would wait out the session; bench/rebalance.py).
            session_timeout_ms=round(self.settings.consumer_session_timeout_seconds * 1000),
            heartbeat_interval_ms=round(self.settings.consumer_heartbeat_seconds * 1000),
            # Commit only after `process` returned, i.e. after the effect's transaction committed.
            ack_policy=AckPolicy.NACK_ON_ERROR,
            parser=_headers_left_raw,
            decoder=_undecoded,
            title=f"{self.spec.name}:{handler.__name__}",
            batch=batch,
            max_records=batch_records,
            # An empty poll waits this long and then sleeps as long again (FastStream's batch loop): a
            # record arriving meanwhile waits up to twice this, on every hop of a flow (200 ms by default).
            batch_timeout_ms=max(BATCH_POLL_MS, gather_ms),
            fetch_min_bytes=GATHER_BYTES if gather_ms else 1,
            fetch_max_wait_ms=gather_ms or IDLE_FETCH_WAIT_MS,
        )
        async def on_message(message: KafkaMessage) -> None:
            received = message.raw_message  # a tuple of records in batch mode
            if isinstance(received, tuple):
                await consumer.process_batch(received, handler, decode, only=only)
            else:
                await consumer.process(received, handler, decode, only=only)


async def _headers_left_raw(
    record: ConsumerRecord[Any, Any] | tuple[ConsumerRecord[Any, Any], ...],
    default_parser: Callable[[Any], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's own parser, given the records without their headers; the message then carries the
    records as they came. That parser decodes every header as UTF-8 before our code sees the record,
    and one header that is not UTF-8 made it skip the record (and, in a batch, every record fetched
    with it) without a trace. Headers stay bytes until `decode_event` judges them, so such a record is
    dead-lettered with the reason and its neighbours are processed."""
    stripped = (
        tuple(dataclasses.replace(one, headers=[]) for one in record)
        if isinstance(record, tuple)
        else dataclasses.replace(record, headers=[])
    )
    message = await default_parser(stripped)
    message.raw_message = record
    return message


async def _undecoded(message: StreamMessage[Any]) -> bytes:
    # The idempotent consumer parses and validates the record itself, so a malformed body becomes a
    # DLQ entry with a reason instead of an exception inside FastStream's decoder.
    return message.body


async def get_keys(request: Request) -> KeyRing:
    """The FastAPI dependency that gives a route its service's API keys (and the access tokens standing
    for them), as `create_app` built them for the service's settings."""
    keys: KeyRing | None = request.app.state.keys
    assert keys is not None, "a service without API keys has no key routes"
    return keys


async def get_runtime(request: Request) -> "Runtime[Any]":
    """The FastAPI dependency that gives a route its service's runtime; each service types it with its
    settings: `Annotated[Runtime[TheirSettings], Depends(get_runtime)]`. The composition root put it
    there (async: FastAPI runs a plain `def` dependency in a worker thread, ~0.2 ms of CPU a request)."""
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


Worker = Callable[[Runtime[SettingsT]], Coroutine[Any, Any, None]]


def create_app(
    spec: ServiceSpec,
    settings: SettingsT,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    subscriptions: Callable[[Runtime[SettingsT]], None] | None = None,
    publishes: bool = False,
    workers: Sequence[Worker[SettingsT]] = (),
    middleware: Sequence[Middleware] = (),
    public_prefixes: Sequence[str] = (),
) -> FastAPI:
    """The service's ASGI app; its lifespan starts and stops everything else. `middleware` runs
    inside the request context (correlation id, metrics), API-key authentication (a service with
    `api_keys`, which accepts access tokens for them too; paths under `public_prefixes` are open) and
    the body limit, outermost first."""

    # Whether any API key is rate limited (ApiKeySettings): its requests are then counted (the ended
    # windows are purged by the kernel retention).
    limited = isinstance(settings, ApiKeySettings) and limits_keys(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        tracer_provider = configure_tracing(spec.name)
        pool = await create_pool(settings.database_url, spec.schema, max_size=settings.db_pool_size)
        async with pool.acquire() as conn:
            applied = await apply_migrations(conn, spec.schema, spec.migrations_dir)
        if applied:
            log.info("migrations applied", migrations=applied)
        producer = EventProducer(settings.kafka_bootstrap_servers, spec.name)
        broker = KafkaBroker(
            bootstrap_list(settings.kafka_bootstrap_servers),
            client_id=spec.name,
            consumer_only=True,
            metadata_max_age_ms=CONSUMER_METADATA_MAX_AGE_MS,
            graceful_timeout=settings.shutdown_grace_seconds * SHUTDOWN_SHARE_AFTER_HTTP,
            logger=logging.getLogger("faststream"),
        )
        consumer = IdempotentConsumer(
            pool,
            producer,
            spec.name,
            max_attempts=settings.max_delivery_attempts,
            backoff_seconds=settings.retry_backoff_seconds,
        )
        runtime = Runtime(spec, settings, pool, producer, broker, consumer)
        app.state.runtime = runtime
        if subscriptions is not None:
            subscriptions(runtime)
        relay = (
            OutboxRelay(
                pool,
                spec.schema,
                producer,
                poll_interval=settings.outbox_poll_interval_seconds,
                batch_size=settings.outbox_batch_size,
                lease_seconds=settings.outbox_lease_seconds,
            )
            if publishes
            else None
        )
        runtime.tasks.append(asyncio.create_task(producer.connect(), name="producer-connect"))
        runtime.tasks.extend(_backlog_reporters(runtime, pool, publishes))
        if subscriptions is not None:
            runtime.tasks.append(asyncio.create_task(_start_broker(broker), name="broker-start"))
        runtime.tasks.extend(asyncio.create_task(direct.run(), name="direct-subscription") for direct in runtime.direct)
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay") if relay else None
        runtime.tasks.extend(asyncio.create_task(worker(runtime), name=worker.__name__) for worker in workers)
        retention = KernelRetention(pool, settings, runtime.topics)
        runtime.tasks.append(
            asyncio.create_task(
                run_periodically("kernel retention", retention.purge, settings.table_purge_interval_seconds),
                name="kernel-retention",
            )
        )
        # What start-up loaded (modules, routes, schemas, validators) lives as long as the process; out
        # of the collector's sight, a full collection no longer walks it. It took 75-150 ms with the
        # event loop stopped, which made order_api's p99 at 300 creates/s (bench/order_create.py).
        gc.freeze()
        # A young collection every 700 allocations (Python's default) walked the objects of every request
        # in flight: ~5 % of order_api's CPU over a run of creates (bench/README.md), ~1.5 % every 20,000.
        gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS)
        log.info("service started", port=settings.http_port)
        try:
            yield
        finally:
            # Bounded as a whole, so the process exits (0) before its orchestrator's patience runs
            # out, also while Kafka or Postgres is away; what is left (unsent outbox rows, say) waits
            # for the next instance.
            log.info("service stopping")
            deadline = asyncio.get_running_loop().time() + settings.shutdown_grace_seconds * SHUTDOWN_SHARE_AFTER_HTTP
            # The consumers finish the message in hand and commit its offset.
            stopping = (direct.stop() for direct in runtime.direct)
            await _within(deadline, "kafka consumers", asyncio.gather(broker.stop(), *stopping))
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            if relay is not None and relay_task is not None:
                relay.stop()  # publishes what is committed, unless Kafka is away
                await _within(deadline, "outbox relay", relay_task)
            await _within(deadline, "kafka producer", producer.close())
            if not await _within(deadline, "database pool", pool.close()):
                pool.terminate()
            if tracer_provider is not None:  # exports the spans still buffered
                await _within(deadline, "trace exporter", asyncio.to_thread(tracer_provider.shutdown))
            log.info("service stopped")

    guards = [
        Middleware(
            BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_seconds=settings.http_body_timeout_seconds
        )
    ]
    key_settings = settings if isinstance(settings, ApiKeySettings) else None
    keys = KeyRing.of(key_settings) if key_settings is not None else None
    if keys is not None:
        guards.insert(0, Middleware(AuthenticationMiddleware, keys=keys, public_prefixes=public_prefixes))
    if key_settings is not None and limited:
        # Right after authentication: a key over its limit is refused before its body is read.
        guards.insert(1, Middleware(KeyRateLimitMiddleware, window_seconds=key_settings.api_key_rate_window_seconds))
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        middleware=[*guards, *middleware],
        responses=EDGE_RESPONSES,
        docs_url=None,  # served by install_api_docs, without a CDN
        redoc_url=None,
        # Spans and metrics are the request context's (shared/tracing.py, /metrics). FastAPI's own would
        # look the global OpenTelemetry providers up on every request (~2 % of an order create's CPU)
        # only to find them unset.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.keys = keys
    install_problem_handlers(app)
    install_api_docs(app)
    app.include_router(operations_router())
    for router in routers:
        app.include_router(router)
    app.add_middleware(RequestContextMiddleware)
    app.router.middleware_stack = StaticRoutes(app.router)
    return app


def _backlog_reporters(runtime: Runtime[Any], pool: asyncpg.Pool, publishes: bool) -> list[asyncio.Task[None]]:
    """The tasks that keep the backlog gauges on /metrics current: the consumer group's lag, the outbox's
    backlog."""
    settings = runtime.settings
    interval = settings.metrics_interval_seconds
    tasks = []
    if runtime.topics:
        lag = report_consumer_lag(settings.kafka_bootstrap_servers, settings.consumer_group, runtime.topics, interval)
        tasks.append(asyncio.create_task(lag, name="consumer-lag"))
    if publishes:
        backlog = run_periodically("outbox backlog metrics", lambda: export_backlog(pool), interval)
        tasks.append(asyncio.create_task(backlog, name="outbox-backlog"))
    return tasks


async def _within(deadline: float, what: str, step: Awaitable[object]) -> bool:
    """Await `step` until `deadline` (loop time); past it, cancel it and say so. Whether it finished."""
    try:
        async with asyncio.timeout_at(deadline):
            await step
    except TimeoutError:
        log.warning("shutdown: gave up waiting", step=what)
        return False
    return True


async def _start_broker(broker: KafkaBroker, retry_seconds: float = 1.0) -> None:
    while True:
        try:
            await broker.start()
            log.info("kafka consumers started")
            return
        except (KafkaError, OSError) as error:
            log.warning("kafka not reachable for consumers yet, retrying", error=str(error))
            await broker.stop()
            await asyncio.sleep(retry_seconds)


def serve(app: FastAPI, settings: ServiceSettings, *, workers: int = 1, factory: str = "") -> None:
    """Run until SIGTERM/SIGINT, then drain within the grace period and exit 0.

    With `workers` > 1, uvicorn starts that many processes sharing the port, each building its app with
    `factory` ("module:function"); everything a service runs in the background must then tolerate
    several instances, as it must anyway when several containers run (the outbox relay leads in one
    at a time, by advisory lock)."""
    if workers > 1 and not factory:
        raise ValueError("several workers need the app's factory as an import string")
    # uvicorn handles the signal, drains, restores the previous handlers and raises the signal again;
    # with these no-op handlers that last step does nothing, so a completed drain exits with 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    uvicorn.run(
        app if workers == 1 else factory,
        factory=workers > 1,
        workers=workers,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        http=OneWriteHttpProtocol,  # each answer in one write (shared/http_protocol.py)
        # "auto" would log a failed start-up quietly and serve without a runtime; "on" exits instead.
        lifespan="on",
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds * SHUTDOWN_SHARE_FOR_HTTP)),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_concurrency,
    )
