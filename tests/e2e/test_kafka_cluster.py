"""The delivery guarantees on a three-node Kafka cluster (replication 3, min.insync.replicas 2, acks=all):
a broker, then the active controller, SIGKILLed while orders are created over HTTP and consumed.

The services run on a cluster and a database of the test's own, so they share no outbox, consumer
group or processed events with the session's services on the single broker.
"""

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.kafka import KafkaCluster, KafkaNode
from deploy.local.quorum import quorum_leader
from deploy.provision import provision_database
from shared.auth import LOCAL_API_KEY
from shared.services import ANONYMIZER, ORDER_API, WEBHOOK_DISPATCHER
from shared.topics import ALL_TOPICS
from tests.e2e.conftest import FAST_SETTINGS, LOG_DIR
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess, running_services
from tests.support.receiver import Received, WebhookReceiver
from tests.support.storefront import CREATE_PATH, order_body, wait_applied_once
from tests.support.webhooks import endpoints, order_of

CLUSTER_DATABASE: Final = "orders_kafka_cluster"
# order_api's outbox relay produces; the anonymizer and the dispatcher consume orders.events, and each
# records an effect per event that the test counts (the audit log, a webhook per webhook-id).
CLUSTER_SERVICES: Final = (ORDER_API, ANONYMIZER, WEBHOOK_DISPATCHER)
CREATORS: Final = 2  # storefronts creating orders at once
PACE_S: Final = 0.05  # each storefront's pause between orders: a steady stream, not a benchmark
# The flow has carried on through a failover once this many orders created after the kill reached
# both consumers.
RESUMED_AFTER: Final = 20
OFFSETS_TOPIC: Final = "__consumer_offsets"


@pytest.fixture
async def cluster_database(stack: tuple[str, str]) -> AsyncIterator[str]:
    """The admin DSN of a database of the test's own on the session's Postgres, provisioned."""
    admin = await asyncpg.connect(stack[0])
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {CLUSTER_DATABASE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {CLUSTER_DATABASE}")
        dsn = urlunsplit(urlsplit(stack[0])._replace(path=f"/{CLUSTER_DATABASE}"))
        await provision_database(dsn)
        yield dsn
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {CLUSTER_DATABASE} WITH (FORCE)")
        await admin.close()


@pytest.fixture
def cluster_services(kafka_cluster: KafkaCluster, cluster_database: str) -> Iterator[dict[str, ServiceProcess]]:
    """The services on the test's own cluster and database, their logs in test-logs/kafka-cluster."""
    stack = (cluster_database, kafka_cluster.bootstrap)
    with running_services(CLUSTER_SERVICES, stack, LOG_DIR / "kafka-cluster", FAST_SETTINGS) as processes:
        yield processes


@dataclass
class Storefront:
    """Creates orders over HTTP until told to stop; every answer must be a 201."""

    http: httpx.AsyncClient
    api: str
    created: list[int] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def create_until_stopped(self) -> None:
        while not self.stop.is_set():
            body = order_body(email=f"buyer{len(self.created)}@example.com")
            response = await self.http.post(self.api + CREATE_PATH, json=body)
            assert response.status_code == 201, response.text
            self.created.append(response.json()["order"]["id"])
            await asyncio.sleep(PACE_S)


@dataclass(frozen=True)
class Failover:
    what: str
    killed_at: datetime
    killed_monotonic: float
    resumed_at: datetime
    resumed_monotonic: float
    controller_after: int  # the active controller while the node was down


async def _applied(conn: asyncpg.Connection, order_ids: list[int]) -> set[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT order_id FROM anonymizer.audit_log WHERE event_type = 'order.created' "
        "AND order_id = ANY($1::bigint[])",
        order_ids,
    )
    return {row["order_id"] for row in rows}


def _delivered(receiver: WebhookReceiver) -> set[int | None]:
    return {order_of(request) for request in receiver.received()}


async def _reached_both(conn: asyncpg.Connection, receiver: WebhookReceiver, order_ids: list[int]) -> int:
    """How many of `order_ids` reached the anonymizer and the webhook receiver."""
    return len((await _applied(conn, order_ids)) & _delivered(receiver))


async def _fully_replicated(cluster: KafkaCluster) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, client_id="tests")
    await admin.start()
    try:
        topics = await admin.describe_topics([*ALL_TOPICS, OFFSETS_TOPIC])
    finally:
        await admin.close()
    return all(len(partition["isr"]) == cluster.brokers for topic in topics for partition in topic["partitions"])


async def _fail_over(
    what: str,
    node: KafkaNode,
    storefront: Storefront,
    conn: asyncpg.Connection,
    receiver: WebhookReceiver,
) -> Failover:
    """SIGKILL `node` mid-stream, wait until orders created after the kill reach both consumers, then
    start it again and wait until every partition has all its replicas in sync again."""
    mark = len(storefront.created)
    killed_at, killed_monotonic = datetime.now(UTC), time.monotonic()
    await asyncio.to_thread(node.kill)
    await eventually(
        lambda: _reached_both(conn, receiver, storefront.created[mark:]), lambda n: n >= RESUMED_AFTER, timeout=120
    )
    resumed_at, resumed_monotonic = datetime.now(UTC), time.monotonic()
    controller = await quorum_leader(node.cluster.bootstrap)
    failover = Failover(what, killed_at, killed_monotonic, resumed_at, resumed_monotonic, controller)
    await asyncio.to_thread(node.start)
    await eventually(lambda: _fully_replicated(node.cluster), bool, timeout=120, interval=0.5)
    return failover


def _longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest pause between consecutive `times` that overlaps [start, end]."""
    ordered = sorted(times)
    return max((b - a for a, b in itertools.pairwise(ordered) if b >= start and a <= end), default=0.0)


async def _report(conn: asyncpg.Connection, receiver: WebhookReceiver, failovers: list[Failover]) -> None:
    consumed = [
        row["recorded_at"].timestamp()
        for row in await conn.fetch("SELECT recorded_at FROM anonymizer.audit_log WHERE event_type = 'order.created'")
    ]
    arrivals = [request.at for request in receiver.received()]
    for failover in failovers:
        anonymizer_gap = _longest_gap(consumed, failover.killed_at.timestamp(), failover.resumed_at.timestamp())
        webhook_gap = _longest_gap(arrivals, failover.killed_monotonic, failover.resumed_monotonic)
        print(
            f"\n{failover.what}: longest pause in consumed order.created {anonymizer_gap:.1f} s (anonymizer), "
            f"{webhook_gap:.1f} s (webhooks); {RESUMED_AFTER} orders created after the kill had reached both "
            f"{failover.resumed_monotonic - failover.killed_monotonic:.1f} s after it, with node "
            f"{failover.controller_after} the active controller"
        )


def _webhooks_per_order(requests: list[Received]) -> Counter[int | None]:
    """Deliveries per order, one per webhook-id: a redelivered request is the same message; a second
    message for an order's order.created would be the event processed twice."""
    first = {request.headers["webhook-id"]: request for request in requests}
    return Counter(order_of(request) for request in first.values())


async def test_a_broker_then_the_active_controller_killed_mid_stream_lose_and_duplicate_nothing(
    kafka_cluster: KafkaCluster, cluster_database: str, cluster_services: dict[str, ServiceProcess]
) -> None:
    conn = await asyncpg.connect(cluster_database)
    headers = {"authorization": f"Bearer {LOCAL_API_KEY}"}
    async with httpx.AsyncClient(timeout=30.0, headers=headers) as http:
        with WebhookReceiver() as receiver:
            async with endpoints(http, cluster_services[WEBHOOK_DISPATCHER.name].url) as api:
                await api.register(receiver.url, ["order.created"])
                storefront = Storefront(http, cluster_services[ORDER_API.name].url)
                creators = [asyncio.create_task(storefront.create_until_stopped()) for _ in range(CREATORS)]
                try:
                    await eventually(
                        lambda: _reached_both(conn, receiver, storefront.created),
                        lambda n: n >= RESUMED_AFTER,
                        timeout=120,
                    )
                    leader = await quorum_leader(kafka_cluster.bootstrap)
                    broker = next(node for node in kafka_cluster.nodes if node.node_id != leader)
                    failovers = [
                        await _fail_over(f"broker {broker.node_id} killed", broker, storefront, conn, receiver)
                    ]
                    controller = kafka_cluster.node(await quorum_leader(kafka_cluster.bootstrap))
                    failovers.append(
                        await _fail_over(
                            f"active controller {controller.node_id} killed", controller, storefront, conn, receiver
                        )
                    )
                finally:
                    storefront.stop.set()
                    await asyncio.gather(*creators)

                order_ids = sorted(storefront.created)
                await wait_applied_once(conn, order_ids, timeout=120)
                await eventually(
                    lambda: asyncio.sleep(0, _delivered(receiver)), lambda seen: seen >= set(order_ids), timeout=120
                )
                await asyncio.sleep(1.0)  # a duplicate in flight would land now
                webhooks = _webhooks_per_order(receiver.received())
                await _report(conn, receiver, failovers)
        # The relay carried on through both failovers: every row it sent is marked so.
        unsent = "SELECT count(*) FROM order_api.outbox WHERE sent_at IS NULL"
        await eventually(lambda: conn.fetchval(unsent), lambda n: n == 0)
    await conn.close()

    print(f"{len(order_ids)} orders created, each consumed once by the anonymizer and delivered once")
    assert failovers[1].controller_after != controller.node_id, "another node took over the metadata quorum"
    assert {order_id: n for order_id, n in webhooks.items() if n != 1} == {}
    assert set(webhooks) == set(order_ids)
    assert all(process.running for process in cluster_services.values())
