"""The outage drill, automated: Postgres crashes and comes back, Kafka stops for a while and comes back,
and a service is stopped while Kafka is away. Nothing answers 500, nothing waits without bound, and
every event still goes out once."""

import asyncio
import os
import time
from typing import Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from tests.e2e.conftest import Outage
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, create_orders, order_body, unsent_outbox_rows, wait_applied_once

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("DATABASE_URL")),
    reason="stops the launcher's own Postgres and Kafka",
)

# Long enough for every service's Kafka clients to retry many times against the stopped broker, each
# time from a new source port: the drill that found the broker's port taken by such a client.
KAFKA_OUTAGE_SECONDS: Final = 20.0
KEY: Final = {"authorization": f"Bearer {LOCAL_API_KEY}"}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["retry-after"]) > 0


async def test_while_postgres_is_down_every_service_answers_503_with_retry_after_then_recovers(
    system: dict[str, ServiceProcess], stack: tuple[str, str], postgres_outage: Outage
) -> None:
    api, webhooks = system["order_api"].url, system["webhook_dispatcher"].url
    async with httpx.AsyncClient(timeout=20.0, headers=KEY) as client:
        assert_unavailable(await client.post(api + CREATE_PATH, json=order_body()))
        # With an Idempotency-Key, the database is first needed by a middleware, outside the routes.
        assert_unavailable(
            await client.post(api + CREATE_PATH, json=order_body(), headers={"idempotency-key": "outage-1"})
        )
        assert_unavailable(await client.get(api + "/com/orders.json"))
        assert_unavailable(await client.post(api + "/users/orders/anonymous/", json={"number": "1", "email": "a@b.co"}))
        assert_unavailable(await client.get(webhooks + "/webhooks"))
        for process in system.values():
            readiness = await client.get(process.url + "/health/ready")
            assert readiness.status_code == 503
            assert readiness.json()["checks"]["database"] == "unreachable"

        await postgres_outage()
        created = await eventually(
            lambda: client.post(api + CREATE_PATH, json=order_body()), lambda answer: answer.status_code == 201
        )
    conn = await asyncpg.connect(stack[0])
    try:
        await wait_applied_once(conn, [created.json()["order"]["id"]])
    finally:
        await conn.close()


async def test_order_api_stops_within_its_grace_while_kafka_is_down_and_the_broker_restarts_on_its_port(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection, kafka_outage: Outage
) -> None:
    api = system["order_api"]
    outage_started = time.monotonic()
    order_ids = await create_orders(http, api.url, 5)  # accepted: their events wait in the outbox
    assert await unsent_outbox_rows(admin_db, order_ids) == len(order_ids)

    # SIGINT, as Ctrl-C in `./dev run`. The tests run services with a 10 s grace: within it, plus the
    # interpreter's own start and exit, the process must be gone, and with exit code 0.
    assert api.interrupt(timeout=20.0) == 0
    assert await unsent_outbox_rows(admin_db, order_ids) == len(order_ids), "left for the next relay"

    api.start(wait_ready=False)  # the other services keep retrying Kafka meanwhile
    await asyncio.sleep(max(0.0, KAFKA_OUTAGE_SECONDS - (time.monotonic() - outage_started)))
    await kafka_outage()  # raised "address already in use" when a retrying client held the broker's port

    await wait_applied_once(admin_db, order_ids)
    assert await unsent_outbox_rows(admin_db, order_ids) == 0
    api.wait_until("/health/ready", 60)
