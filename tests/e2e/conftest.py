"""The whole system as a user runs it: the four services as processes over the real stack."""

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Final

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from deploy.demo_catalog import DEMO_VARIANTS
from deploy.local.base import STATE_DIR
from deploy.local.kafka import KafkaCluster
from deploy.local.smtp_sink import Sink
from deploy.local.stack import kafka_start, kafka_stop, postgres_crash, postgres_start
from deploy.provision import provision_topics
from deploy.sandbox.payments import SPEC as PAYMENTS_SANDBOX
from shared.auth import LOCAL_API_KEY
from shared.order_facts import VariantFact
from shared.services import LOCAL_KAFKA_PORT, REPO_ROOT, SERVICES
from tests.support.order_api_facts import seed_demo_catalog
from tests.support.processes import ServiceProcess, free_port, running_services
from tests.support.receiver import WebhookReceiver
from tests.support.refund_flow import OrderApiStandIn

READ_ONLY_KEY: Final = "test-orders-read-key"
# The tests' SMTP server (a real aiosmtpd server the tests read), where the cancellation worker mails.
MAILBOX_PORT: Final = free_port()
WRITE_ONLY_KEY: Final = "test-orders-write-key"
ACCESS_TOKEN_SECRET: Final = "test-access-token-secret"

# Every service that holds an order's personal data, so answers its erasure with a receipt (the
# anonymizer's default ANONYMIZER_RECEIPT_SERVICES), by name.
EVERY_RECEIPT: Final = ["anonymizer", "cancellation_worker", "order_api", "webhook_dispatcher"]
# The key of order_api's guest-lookup bucket names in these tests.
RATE_LIMIT_HASH_KEY: Final = "e2e-rate-limit-hash-key"

# Short timings so retries and polls happen within a test's patience; production defaults are longer.
FAST_SETTINGS = {
    "ORDER_API_OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
    "WEBHOOKS_RETRY_SCHEDULE_SECONDS": "[0.5, 0.5, 1]",
    "WEBHOOKS_SENDER_POLL_INTERVAL_SECONDS": "0.05",
    "ANONYMIZER_RETRY_BACKOFF_SECONDS": "0.05",
    "CANCELLATION_RETRY_BACKOFF_SECONDS": "0.05",
    "WEBHOOKS_RETRY_BACKOFF_SECONDS": "0.05",
    "CANCELLATION_SMTP_PORT": str(MAILBOX_PORT),
    "CANCELLATION_MAIL_RETRY_SCHEDULE_SECONDS": "[0.5, 1]",
    "CANCELLATION_MAIL_POLL_INTERVAL_SECONDS": "0.2",
    "PAYMENTS_SANDBOX_DELAY_SECONDS": "0.1",
    # The anonymizer's backlog gauges (its consumer lag) are read every second, for test_prometheus.
    "ANONYMIZER_METRICS_INTERVAL_SECONDS": "1",
    # The dispatcher's per-endpoint figures likewise, for test_webhooks_endpoint_operations.
    "WEBHOOKS_METRICS_INTERVAL_SECONDS": "1",
    # A stalled request body is refused (408) within a test's patience.
    "ORDER_API_HTTP_BODY_TIMEOUT_SECONDS": "2",
    "WEBHOOKS_HTTP_BODY_TIMEOUT_SECONDS": "2",
    "ANONYMIZER_HTTP_BODY_TIMEOUT_SECONDS": "2",
    "CANCELLATION_HTTP_BODY_TIMEOUT_SECONDS": "2",
    # The local key with every scope, plus one key per order scope for the 401/403 tests.
    "ORDER_API_API_KEYS": json.dumps(
        {LOCAL_API_KEY: ["*"], READ_ONLY_KEY: ["orders:read"], WRITE_ONLY_KEY: ["orders:write"]}
    ),
    "CANCELLATION_API_KEYS": json.dumps({LOCAL_API_KEY: ["*"], READ_ONLY_KEY: ["orders:read"]}),
    # Not the local default, so a test naming the guest lookups' buckets shows the service reads it.
    "ORDER_API_RATE_LIMIT_HASH_KEY": RATE_LIMIT_HASH_KEY,
    # One secret, so the anonymizer accepts order_api's access tokens (for a key both have).
    "ORDER_API_ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
    "ANONYMIZER_ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
}

# For tests that run several dispatchers and kill one.
SCALE_SETTINGS = {
    **FAST_SETTINGS,
    "WEBHOOKS_TOTAL_TIMEOUT_SECONDS": "5",
    # A killed instance's claims come back within ~7 s instead of the production ~45 s.
    "WEBHOOKS_LEASE_MARGIN_SECONDS": "2",
}

LOG_DIR = REPO_ROOT / ".local" / "test-logs"


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Sink]:
    """The SMTP server the cancellation worker sends to; every message it received, in memory."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=MAILBOX_PORT)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def payments_sandbox(stack: tuple[str, str]) -> Iterator[ServiceProcess]:
    """The payments sandbox (`python -m deploy.sandbox.payments`) on the real broker."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    sandbox = ServiceProcess(PAYMENTS_SANDBOX, stack, LOG_DIR, FAST_SETTINGS, module="deploy.sandbox.payments")
    sandbox.start()
    try:
        yield sandbox
    finally:
        if sandbox.running:
            sandbox.terminate()


@pytest.fixture(scope="session")
def system(
    stack: tuple[str, str], mailbox: Sink, payments_sandbox: ServiceProcess
) -> Iterator[dict[str, ServiceProcess]]:
    """All four services, started and ready (with the payments sandbox and the SMTP server the
    cancellation worker needs); tests that kill one start it again."""
    with running_services(SERVICES, stack, LOG_DIR, FAST_SETTINGS) as processes:
        yield processes


@pytest.fixture(scope="session")
async def demo_catalog(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> dict[int, VariantFact]:
    """The launcher's demo catalog, applied by the running order_api through orders.ingest: the
    documents' example variants (by id) and customer 207119551 can be ordered."""
    conn = await asyncpg.connect(stack[0])
    try:
        await seed_demo_catalog(stack[1], conn)
    finally:
        await conn.close()
    return {variant.id: variant for variant in DEMO_VARIANTS}


@pytest.fixture
async def http(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends order_api the local API key (every scope) unless a request names its own."""
    order_api_port = httpx.URL(system["order_api"].url).port

    def order_api_key(request: httpx.Request) -> httpx.Request:
        if request.url.port == order_api_port:
            request.headers.setdefault("authorization", f"Bearer {LOCAL_API_KEY}")
        return request

    async with httpx.AsyncClient(timeout=20.0, auth=order_api_key) as client:
        yield client


@pytest.fixture
def order_api(
    system: dict[str, ServiceProcess], admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> OrderApiStandIn:
    """order_api as the cancellation worker sees it: its events, published by the test onto the topics."""
    return OrderApiStandIn(stack, admin_db)


@pytest.fixture
def api(system: dict[str, ServiceProcess]) -> str:
    """The running order API's base URL (a file may use this name for a client of one dialect instead)."""
    return system["order_api"].url


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
async def register_endpoint(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> AsyncIterator[Callable[[str, list[str]], Awaitable[str]]]:
    """Register webhook endpoints through the API; returns their secrets. Disabled afterwards, so
    later tests' events are not fanned out to receivers that are gone."""
    urls: list[str] = []

    async def register(url: str, event_types: list[str]) -> str:
        response = await http.post(
            f"{system['webhook_dispatcher'].url}/webhooks",
            json={"url": url, "event_types": event_types},
            headers={"authorization": f"Bearer {LOCAL_API_KEY}"},
        )
        assert response.status_code == 201, response.text
        urls.append(url)
        secret: str = response.json()["secret"]
        return secret

    yield register
    await admin_db.execute("UPDATE webhooks.endpoints SET enabled = false WHERE url = ANY($1::text[])", urls)


@pytest.fixture
async def kafka_cluster() -> AsyncIterator[KafkaCluster]:
    """A three-node KRaft cluster of the test's own, provisioned (12 partitions, 3 replicas,
    min.insync.replicas 2): ports from LOCAL_KAFKA_PORT + 10, data under .local/test-kafka-3, thrown
    away afterwards."""
    cluster = KafkaCluster(LOCAL_KAFKA_PORT + 10, STATE_DIR / "test-kafka-3", brokers=3)
    await asyncio.to_thread(cluster.kill)  # what an interrupted run left behind
    shutil.rmtree(cluster.directory, ignore_errors=True)
    try:
        await asyncio.to_thread(cluster.start)
        await provision_topics(cluster.bootstrap)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.kill)
        shutil.rmtree(cluster.directory, ignore_errors=True)


Outage = Callable[[], Awaitable[None]]


def _outage(stop: Callable[[], object], start: Callable[[], object]) -> Iterator[Outage]:
    stop()
    restored = False

    async def restore() -> None:
        nonlocal restored
        await asyncio.to_thread(start)
        restored = True

    yield restore
    if not restored:
        start()


@pytest.fixture
def kafka_outage() -> Iterator[Outage]:
    """Stops the local broker now; `restore()` (or the test's end, whatever happens) starts it again."""
    yield from _outage(kafka_stop, kafka_start)


@pytest.fixture
def postgres_outage() -> Iterator[Outage]:
    """Crashes the local Postgres now (`pg_ctl stop -m immediate`); `restore()` (or the test's end)
    starts it again."""
    yield from _outage(postgres_crash, postgres_start)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, show each service's last log lines: CI has no other window into the processes."""
    report = yield
    if report.failed and call.when == "call":
        for log in sorted(LOG_DIR.glob("*.log")):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            report.sections.append((f"service log {log.name}", tail))
    return report
