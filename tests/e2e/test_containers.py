"""docker-compose.yml for real, in containers (podman): the images built on this machine, three
cancellation_worker and two webhook_dispatcher replicas sharing the order events, and worker
containers killed mid-stream without an order lost or applied twice."""

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import pytest
import yaml

from deploy.containers import engine, images
from deploy.containers.compose import Compose
from shared.services import CANCELLATION_WORKER, WEBHOOK_DISPATCHER
from tests.support.polling import eventually
from tests.support.processes import free_port
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import endpoints, new_order_id, order_event, order_of, publish

# Not the project `./dev containers up` runs, so the test leaves a developer's containers alone.
PROJECT: Final = "order-events-e2e"
REPLICAS: Final = {"cancellation_worker": 3, "webhook_dispatcher": 2, "anonymizer": 1}
ORDERS: Final = 200
# The receiver listens on the host's address on the project's network: a private one.
PRIVATE_SUBNETS: Final = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    """The whole compose file up and healthy, with the replicas above; removed with its volumes after."""
    services: dict[str, dict[str, object]] = {
        name: {"deploy": {"mode": "replicated", "replicas": count}} for name, count in REPLICAS.items()
    }
    services[WEBHOOK_DISPATCHER.name]["environment"] = {"WEBHOOKS_ALLOWED_SUBNETS": json.dumps(PRIVATE_SUBNETS)}
    override = Path(tmp_path_factory.mktemp("compose")) / "replicas.yml"
    override.write_text(yaml.safe_dump({"services": services}))
    engine.configure()
    images.build_all()
    # Postgres and Kafka published on free ports (the local stack may hold the compose file's defaults),
    # chosen just before they are taken: chosen when the module loaded, a port stayed unclaimed through
    # the rest of the suite, and once a service another test started was listening on it by then.
    postgres_port = free_port()
    kafka_port = next(port for port in iter(free_port, None) if port != postgres_port)
    ports = {"POSTGRES_HOST_PORT": str(postgres_port), "KAFKA_HOST_PORT": str(kafka_port)}
    compose = Compose(PROJECT, (images.COMPOSE_FILE, override), ports)
    compose.remove()  # what an interrupted run left
    try:
        compose.up()
        yield compose
    finally:
        compose.remove()


def _running(platform: Compose, service: str) -> list[str]:
    return sorted(
        container["Names"][0]
        for container in platform.containers()
        if container["Labels"].get("com.docker.compose.service") == service and container["State"] == "running"
    )


def _admin_dsn(platform: Compose) -> str:
    return f"postgresql://postgres:postgres@127.0.0.1:{platform.variables['POSTGRES_HOST_PORT']}/orders"


def _bootstrap(platform: Compose) -> str:
    return f"localhost:{platform.variables['KAFKA_HOST_PORT']}"


async def _stored_orders(platform: Compose, orders: list[int]) -> int:
    conn = await asyncpg.connect(_admin_dsn(platform))
    try:
        count: int = await conn.fetchval(
            f"SELECT count(*) FROM {CANCELLATION_WORKER.schema}.orders WHERE order_id = ANY($1::bigint[])", orders
        )
        return count
    finally:
        await conn.close()


def _webhook_ids(requests: list[Received], orders: list[int]) -> dict[int, set[str]]:
    by_order: dict[int, set[str]] = defaultdict(set)
    for request in requests:
        if (order_id := order_of(request)) in orders:
            by_order[order_id].add(request.headers["webhook-id"])
    return by_order


async def test_killed_worker_containers_lose_no_order(platform: Compose) -> None:
    workers = _running(platform, CANCELLATION_WORKER.name)
    dispatchers = _running(platform, WEBHOOK_DISPATCHER.name)
    assert (len(workers), len(dispatchers)) == (3, 2)
    orders = [new_order_id() for _ in range(ORDERS)]
    half = ORDERS // 2
    with WebhookReceiver(platform.gateway()) as receiver:
        admin_url = f"http://{platform.published(dispatchers[0], WEBHOOK_DISPATCHER.http_port)}"
        async with httpx.AsyncClient(timeout=20.0) as http, endpoints(http, admin_url) as api:
            await api.register(receiver.url, ["order.created"])
            await publish(_bootstrap(platform), [order_event(order_id, 1) for order_id in orders[:half]])
            await eventually(lambda: asyncio.sleep(0, len(_webhook_ids(receiver.received(), orders))), lambda n: n > 0)

            # SIGKILL one replica of each while the first half is still flowing, then send the rest.
            engine.podman("kill", "--signal", "KILL", workers[1], dispatchers[1], capture=True)
            await publish(_bootstrap(platform), [order_event(order_id, 1) for order_id in orders[half:]])

            delivered = await eventually(
                lambda: asyncio.sleep(0, _webhook_ids(receiver.received(), orders)),
                lambda found: len(found) == ORDERS,
                timeout=240,
                interval=1.0,
            )
            assert (
                await eventually(lambda: _stored_orders(platform, orders), lambda n: n == ORDERS, timeout=240) == ORDERS
            )
    # Redelivered after the kill, an order's event is still one webhook: one webhook-id per order.
    assert {order_id: len(ids) for order_id, ids in delivered.items() if len(ids) != 1} == {}
