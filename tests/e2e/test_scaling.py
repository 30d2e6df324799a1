"""Scaling out and in under a stream of events: 3 cancellation workers, 2 anonymizers and 3 webhook
dispatchers share the work through their consumer groups while one instance of each is SIGKILLed, then
one SIGTERMed (scale-in: the anonymizers' group is then empty for a while), then a new one started
(scale-out), each change made to the three services at once; two order_api instances serve one address
(a round-robin TCP proxy, as a load balancer) and one outbox relay leads. Every effect happens once.

The stream (over 5,000 events on orders.events): orders created and cancelled over HTTP through the
proxy, whose events order_api publishes and whose refunds the worker starts and the payments sandbox
answers; and, for bulk, order events put straight on the topic as order_api's relay would.
"""

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.services import ANONYMIZER, CANCELLATION_WORKER, ORDER_API, WEBHOOK_DISPATCHER, ServiceSpec
from shared.topics import ORDERS_EVENTS
from tests.e2e.conftest import LOG_DIR, SCALE_SETTINGS
from tests.support.consumer_groups import ConsumerGroups
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.refunds import cancel, paid_order
from tests.support.tcp_proxy import RoundRobinProxy
from tests.support.webhooks import endpoints, new_order_id, order_event, order_of, payload

INSTANCES: Final = {CANCELLATION_WORKER: 3, ANONYMIZER: 2, WEBHOOK_DISPATCHER: 3}
BULK_ORDERS: Final = 2_400  # two events each, put on orders.events directly
HTTP_ORDERS: Final = 150  # created and cancelled through the proxy: created, cancelled, refunded ...
BULK_CHUNK: Final = 100  # orders per publish


class Fleet:
    """The instances of each service this test runs, started and stopped as an orchestrator would."""

    def __init__(self, stack: tuple[str, str]) -> None:
        self._stack = stack
        self.instances: dict[ServiceSpec, list[ServiceProcess]] = defaultdict(list)
        self._started: Counter[str] = Counter()

    def start(self, spec: ServiceSpec) -> float:
        """Start an instance of `spec`; when it was ready (monotonic clock)."""
        self._started[spec.name] += 1
        process = ServiceProcess(spec, self._stack, LOG_DIR, SCALE_SETTINGS, instance=str(self._started[spec.name]))
        process.start()
        self.instances[spec].append(process)
        return time.monotonic()

    def stop(self, spec: ServiceSpec, how: str) -> float:
        """Stop the oldest instance of `spec`: "kill" (SIGKILL) or "terminate" (SIGTERM, drained); when
        it had exited (monotonic clock)."""
        process = self.instances[spec].pop(0)
        if how == "kill":
            process.kill()
        else:
            assert process.terminate() == 0, process.log_tail()
        return time.monotonic()

    def stop_all(self) -> None:
        for processes in self.instances.values():
            for process in processes:
                if process.running:
                    process.terminate()


@pytest.fixture
def fleet(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> Iterator[Fleet]:
    """This test's instances instead of the system's one of each, which are back afterwards."""
    for process in system.values():
        if process.running:
            process.terminate()
    fleet = Fleet(stack)
    try:
        yield fleet
    finally:
        fleet.stop_all()
        for process in system.values():
            process.start()


async def _rebalance(fleet: Fleet, groups: ConsumerGroups, spec: ServiceSpec, what: str) -> str:
    """Make one change to `spec`'s instances; the seconds from it (the signal sent; for a scale-out the
    process launched, its start-up included, and then from its readiness) until its group is at work
    again with the instances left (Empty if none)."""
    instances = len(fleet.instances[spec]) + (1 if what == "scale-out" else -1)
    started = time.monotonic()
    if what == "scale-out":
        acting = asyncio.ensure_future(asyncio.to_thread(fleet.start, spec))
    else:
        acting = asyncio.ensure_future(asyncio.to_thread(fleet.stop, spec, "kill" if what == "crash" else "terminate"))
    await groups.at_work(spec.name, instances)
    at_work = time.monotonic()
    ready = await acting  # when the change was done: the process stopped, or started and ready
    if what != "scale-out":
        return f"{at_work - started:.2f}"
    return f"{at_work - started:.2f} ({max(at_work - ready, 0.0):.2f} after ready)"


async def _change(fleet: Fleet, groups: ConsumerGroups, what: str) -> dict[str, str]:
    """One change to every consumer service at once; each group's rebalance time."""
    times = await asyncio.gather(*(_rebalance(fleet, groups, spec, what) for spec in INSTANCES))
    return dict(zip((spec.name for spec in INSTANCES), times, strict=True))


async def _bulk(bootstrap: str, orders: list[int], published: list[Event], pause: float) -> None:
    """Two events per order put on orders.events as order_api's relay would, a chunk at a time."""
    producer = EventProducer(bootstrap, "scaling-test")
    await producer.connect()
    try:
        for start in range(0, len(orders), BULK_CHUNK):
            chunk = [
                order_event(order_id, sequence, event_type)
                for order_id in orders[start : start + BULK_CHUNK]
                for sequence, event_type in ((1, "order.created"), (2, "order.updated"))
            ]
            await producer.send_all([OutgoingRecord(ORDERS_EVENTS, e.key, e.body(), e.headers()) for e in chunk])
            published.extend(chunk)
            await asyncio.sleep(pause)
    finally:
        await producer.close()


async def _create_and_cancel(http: httpx.AsyncClient, url: str, created: list[int]) -> None:
    order = await paid_order(http, url)
    created.append(order["id"])
    response = await cancel(http, url, order["id"])
    assert response.status_code == 200, response.text


async def _http_orders(http: httpx.AsyncClient, url: str, created: list[int]) -> None:
    gate = asyncio.Semaphore(6)

    async def one() -> None:
        async with gate:
            await _create_and_cancel(http, url, created)

    await asyncio.gather(*(one() for _ in range(HTTP_ORDERS)))


async def _settled_refunds(db: asyncpg.Connection, orders: list[int]) -> dict[str, int]:
    rows = await db.fetch(
        """SELECT entry_type, count(*) AS n FROM cancellation.ledger_entries WHERE order_id = ANY($1::bigint[])
           GROUP BY entry_type""",
        orders,
    )
    return {row["entry_type"]: row["n"] for row in rows}


async def test_consumers_scale_out_and_in_under_a_stream_without_losing_or_doubling_an_effect(
    fleet: Fleet, stack: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    bootstrap = stack[1]
    for _ in range(2):
        fleet.start(ORDER_API)
    order_apis = fleet.instances[ORDER_API]
    for spec, count in INSTANCES.items():
        for _ in range(count):
            fleet.start(spec)
    proxy = RoundRobinProxy([process.port for process in order_apis])
    bulk_orders = [new_order_id() for _ in range(BULK_ORDERS)]
    bulk_events: list[Event] = []
    http_orders: list[int] = []
    rebalances: dict[str, dict[str, str]] = {}
    auth = {"authorization": f"Bearer {LOCAL_API_KEY}"}
    with WebhookReceiver() as receiver:
        async with (
            proxy.running(),
            httpx.AsyncClient(timeout=30.0, headers=auth) as http,
            # The newest dispatcher, which outlives the changes (the oldest are stopped first).
            endpoints(http, fleet.instances[WEBHOOK_DISPATCHER][-1].url) as registry,
            ConsumerGroups(bootstrap) as groups,
        ):
            endpoint = await registry.register(receiver.url, ["order.*"], ordered=True)
            for spec, count in INSTANCES.items():
                await groups.at_work(spec.name, count)
            stream = asyncio.gather(
                _bulk(bootstrap, bulk_orders, bulk_events, pause=1.0), _http_orders(http, proxy.url, http_orders)
            )
            await eventually(lambda: asyncio.sleep(0, len(bulk_events)), lambda n: n >= 1_000)
            relay_leaders = set()
            for what in ("crash", "scale-in", "scale-out"):
                rebalances[what] = await _change(fleet, groups, what)
                print(f"rebalance after {what}: {rebalances[what]} (seconds)")
                relay_leaders.add(await admin_db.fetchval("SELECT holder FROM order_api.outbox_leader"))
            during = len(bulk_events)
            await stream
            assert during < 2 * BULK_ORDERS, "the stream ended before the changes did"

            # Every refund the worker started was answered by the sandbox, applied by order_api and
            # settled by the worker: the HTTP orders' events are all written now.
            await eventually(
                lambda: _settled_refunds(admin_db, http_orders),
                lambda found: found.get("succeeded", 0) >= HTTP_ORDERS,
                timeout=120,
            )
            http_events = await admin_db.fetch(
                "SELECT event_id, key FROM order_api.outbox WHERE key = ANY($1::text[]) AND topic = 'orders.events'",
                [str(order_id) for order_id in http_orders],
            )
            expected = {event.id for event in bulk_events} | {row["event_id"] for row in http_events}
            assert len(expected) >= 5_000
            await eventually(
                lambda: admin_db.fetchval(
                    "SELECT count(DISTINCT event_id) FROM anonymizer.audit_log WHERE event_id = ANY($1::uuid[])",
                    list(expected),
                ),
                lambda n: n == len(expected),
                timeout=120,
            )
            await eventually(
                lambda: asyncio.sleep(0, _webhook_ids(receiver.received()) & expected),
                lambda seen: seen == expected,
                timeout=120,
            )
            await asyncio.sleep(2.0)  # anything doubled would land meanwhile
            fanned_out = await admin_db.fetchval(
                "SELECT count(*) FROM webhooks.messages WHERE endpoint_id = $1::text::uuid", endpoint["id"]
            )

    print(f"order_api connections per instance: {dict(proxy.connections)}")
    assert len(proxy.connections) == 2, "both order_api instances served the address"
    # One relay led all along (its holder names its process: host:pid:nonce), one of the two instances.
    (leader,) = relay_leaders
    assert int(leader.split(":")[1]) in {process.pid for process in order_apis}
    # The anonymizer logged each event once.
    audited = await admin_db.fetch(
        "SELECT event_id, count(*) AS n FROM anonymizer.audit_log WHERE event_id = ANY($1::uuid[]) GROUP BY event_id",
        list(expected),
    )
    assert {row["event_id"] for row in audited} == expected
    assert [row["n"] for row in audited if row["n"] != 1] == []
    # The worker started each refund once, and it was settled once.
    assert await _settled_refunds(admin_db, http_orders) == {"requested": HTTP_ORDERS, "succeeded": HTTP_ORDERS}
    commands = await admin_db.fetch(
        """SELECT key, count(*) AS n FROM cancellation.outbox WHERE topic = 'payments.commands'
           AND key = ANY($1::text[]) GROUP BY key""",
        [str(order_id) for order_id in http_orders],
    )
    assert len(commands) == HTTP_ORDERS
    assert [row["key"] for row in commands if row["n"] != 1] == []
    # The dispatcher fanned each event out once, and the receiver got each webhook-id (the event id).
    assert fanned_out == len(expected)
    mine = [request for request in receiver.received() if uuid.UUID(request.headers["webhook-id"]) in expected]
    assert _webhook_ids(mine) == expected
    redelivered = len(mine) - len(expected)
    print(f"{len(expected)} events; {redelivered} redeliveries of a webhook-id (in flight at the SIGKILL)")
    # Per order, the ordered endpoint got the events in sequence: first arrivals by webhook-id.
    for order_id, sequences in _first_arrivals(mine).items():
        assert sequences == sorted(sequences), (order_id, sequences)


def _webhook_ids(requests: list[Received]) -> set[uuid.UUID]:
    return {uuid.UUID(request.headers["webhook-id"]) for request in requests}


def _first_arrivals(requests: list[Received]) -> dict[int | None, list[int]]:
    """Each order's sequence numbers in the order their webhook-ids first arrived."""
    seen: set[str] = set()
    by_order: dict[int | None, list[int]] = defaultdict(list)
    for request in sorted(requests, key=lambda request: request.at):
        if request.headers["webhook-id"] not in seen:
            seen.add(request.headers["webhook-id"])
            by_order[order_of(request)].append(payload(request)["data"]["sequence"])
    return by_order
