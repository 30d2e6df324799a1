"""Anonymizing orders on the real stack, from the request until every service's receipt is in
("Anonymizing orders"; issue 10, must-show 8).

    .venv/bin/python -m bench.anonymization [--orders 10000] [--batch 100] [--in-flight 4]

Starts the local stack if needed, provisions the scratch database `orders_bench`, and runs against it
the four services that hold an order's personal data, each in a consumer group of its own (`*_bench`):
`python -m services.order_api`, `.cancellation_worker`, `.webhook_dispatcher` and `.anonymizer`, and a
webhook receiver on loopback (bench/webhook_dispatch.py's) with one endpoint subscribed to
`order.created`, so the dispatcher holds a delivered message of every order to erase. Then:

- seeding (not timed): `--orders` orders created fulfilled and paid (`POST /com/orders.json`, with an
  email, a customer's name, phone and both addresses), so every one is eligible at once. The first
  half each has a buyer of its own; the second half belongs to `--orders / 2 / --batch` customers with
  `--batch` orders each (one email each). The bench waits until the anonymizer knows every order, the
  cancellation worker holds its copy of every one and the receiver has every `order.created` webhook.
- measured: the first half anonymized through Elastic Path's `POST /v2/orders/anonymize`, `--batch`
  ids per call, and the second half through customer erasure (`POST /erasures {"email": ...}` on the
  anonymizer, one call per customer), both doors at once, `--in-flight` calls in flight on each. The
  run ends when the anonymizer's record of every order is `complete`, i.e. the receipts of order_api,
  cancellation_worker, webhook_dispatcher and the anonymizer itself are all in (polled every 0.1 s).

Printed: the wall time and orders/s; when each step of an order's erasure was done (from the services'
own rows: the order's anonymized version in order_api, the record opened in the anonymizer, each
service's receipt, as the service dated it) with p50/p99 since the order's request was sent, for a
receipt also since the anonymizer asked for it (that service's erasure, its queue included), and the
rate at which the orders got through it, whose inverse is each service's wall time per order; and each
process's CPU time per order (`/proc`; Postgres' backends and the Kafka broker included when the local
launcher runs them). Logs are in `.local/bench-logs/`.
"""

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from bench.support import (
    HttpConnection,
    bench_database,
    closed_loop,
    cpu_by_process,
    http_connections,
    local_stack_pids,
    percentile,
    table,
)
from bench.webhook_dispatch import Receiver
from deploy.local.stack import ensure_stack
from shared.auth import LOCAL_API_KEY
from shared.services import ANONYMIZER, CANCELLATION_WORKER, ORDER_API, REPO_ROOT, WEBHOOK_DISPATCHER
from shared.topics import EVENT_TOPICS, PARTITIONS
from tests.support.processes import ServiceProcess, free_port

CREATE_PATH: Final = "/com/orders.json"
ANONYMIZE_PATH: Final = "/v2/orders/anonymize"
ERASURES_PATH: Final = "/erasures"
RECEIPT_SERVICES: Final = (ORDER_API.name, CANCELLATION_WORKER.name, WEBHOOK_DISPATCHER.name, ANONYMIZER.name)
# Give up waiting (for the seeding to be consumed, or for the erasures) after this long without progress.
STALL_SECONDS: Final = 120.0
LOG_DIR: Final = REPO_ROOT / ".local" / "bench-logs"
REQUESTED_STEP: Final = "erasure requested"


def order_body(email: str, name: str) -> bytes:
    """A fulfilled, paid order (eligible at once) carrying a customer's personal data."""
    address = {
        "first_name": name,
        "last_name": "Benchmark",
        "address1": "1 Erasure Lane",
        "city": "Forgetham",
        "zip": "12345",
        "country_code": "US",
        "phone": "+15550100",
    }
    order = {
        "email": email,
        "currency": "USD",
        "phone": "+15550100",
        "fulfillment_status": "fulfilled",
        "customer": {"first_name": name, "last_name": "Benchmark", "email": email},
        "billing_address": address,
        "shipping_address": address,
        "line_items": [{"title": "Erasable widget", "price": "19.99", "quantity": 1}],
    }
    return json.dumps({"order": order}).encode()


@dataclass
class Seeded:
    """The orders created, by door: Elastic Path's batches, and each customer's orders by email."""

    by_elastic_path: list[int] = field(default_factory=list)
    by_customer: dict[str, list[int]] = field(default_factory=dict)

    @property
    def all(self) -> list[int]:
        return [*self.by_elastic_path, *(one for ids in self.by_customer.values() for one in ids)]


async def seed(order_api: str, api_key: str, args: argparse.Namespace) -> Seeded:
    """Create the orders (the first one of each customer before the rest, so no two creates race to
    make the same customer record)."""
    run = uuid.uuid4().hex[:8]
    half = args.orders // 2
    customers = [f"customer-{run}-{number}@example.com" for number in range(max(1, (args.orders - half) // args.batch))]
    bodies: list[tuple[str | None, bytes]] = [
        (None, order_body(f"buyer-{run}-{number}@example.com", f"Buyer{number}")) for number in range(half)
    ]
    per_customer = [(customers[number % len(customers)], number) for number in range(args.orders - half)]
    firsts = per_customer[: len(customers)]
    rest = per_customer[len(customers) :]
    seeded = Seeded(by_customer={email: [] for email in customers})
    pool = http_connections(order_api, api_key, args.concurrency)

    async def create_all(todo: Sequence[tuple[str | None, bytes]]) -> None:
        queue = list(reversed(todo))

        async def create(index: int) -> bool:
            email, body = queue.pop()
            status, answer = await pool[index].request("POST", CREATE_PATH, body)
            if status != 201:
                raise RuntimeError(f"create answered {status}: {answer[:300]!r}")
            order_id: int = json.loads(answer)["order"]["id"]
            (seeded.by_customer[email] if email is not None else seeded.by_elastic_path).append(order_id)
            return True

        await closed_loop("seed", create, min(args.concurrency, len(todo)) or 1, limit=len(todo))

    try:
        await create_all([(email, order_body(email, f"Customer{number}")) for email, number in firsts])
        await create_all([*bodies, *((email, order_body(email, f"Customer{number}")) for email, number in rest)])
    finally:
        for connection in pool:
            await connection.close()
    return seeded


async def wait_consumed(admin: asyncpg.Connection, order_ids: list[int]) -> None:
    """Until every service has processed the seeding: the anonymizer knows every order, the worker
    holds its copy of each, and every `order.created` webhook was delivered."""
    count = len(order_ids)
    text_ids = [str(one) for one in order_ids]
    checks = {
        "anonymizer": ("SELECT count(*) FROM anonymizer.known_orders WHERE order_id = ANY($1::bigint[])", order_ids),
        "cancellation_worker": (
            "SELECT count(*) FROM cancellation.orders WHERE order_id = ANY($1::bigint[])",
            order_ids,
        ),
        "webhook_dispatcher": (
            "SELECT count(*) FROM webhooks.messages WHERE order_id = ANY($1::text[]) AND status = 'delivered'",
            text_ids,
        ),
    }
    seen: dict[str, int] = {}
    last_news = time.monotonic()
    while True:
        now = {name: await admin.fetchval(query, ids) for name, (query, ids) in checks.items()}
        if all(done >= count for done in now.values()):
            return
        if now != seen:
            seen, last_news = now, time.monotonic()
        elif time.monotonic() - last_news > STALL_SECONDS:
            raise TimeoutError(f"seeding not consumed after {STALL_SECONDS:.0f} s without progress: {now} of {count}")
        await asyncio.sleep(0.5)


@dataclass
class Sent:
    """When each order's anonymization was asked for (wall clock), by the door that asked."""

    at: dict[int, float] = field(default_factory=dict)
    answered: dict[int, float] = field(default_factory=dict)


async def anonymize(order_api: str, anonymizer: str, api_key: str, seeded: Seeded, args: argparse.Namespace) -> Sent:
    """Both doors at once: Elastic Path batches of `--batch` ids, and one customer erasure per email."""
    sent = Sent()
    batches = [seeded.by_elastic_path[at : at + args.batch] for at in range(0, len(seeded.by_elastic_path), args.batch)]
    customers = list(seeded.by_customer.items())
    ep_pool = http_connections(order_api, api_key, args.in_flight)
    erasure_pool = http_connections(anonymizer, api_key, args.in_flight)

    async def call(connection: HttpConnection, path: str, body: dict[str, Any], ids: list[int], expect: int) -> bool:
        started = time.time()
        sent.at.update(dict.fromkeys(ids, started))
        status, answer = await connection.request("POST", path, json.dumps(body).encode())
        if status != expect:
            raise RuntimeError(f"{path} answered {status}: {answer[:300]!r}")
        sent.answered.update(dict.fromkeys(ids, time.time()))
        return True

    async def by_elastic_path(index: int) -> bool:
        ids = batches.pop()
        body = {"data": {"order_ids": [str(one) for one in ids]}}
        return await call(ep_pool[index], ANONYMIZE_PATH, body, ids, 200)

    async def by_customer(index: int) -> bool:
        email, ids = customers.pop()
        return await call(erasure_pool[index], ERASURES_PATH, {"email": email}, ids, 202)

    try:
        await asyncio.gather(
            closed_loop("elastic path", by_elastic_path, args.in_flight, limit=len(batches)),
            closed_loop("customer erasure", by_customer, args.in_flight, limit=len(customers)),
        )
    finally:
        for connection in [*ep_pool, *erasure_pool]:
            await connection.close()
    return sent


async def wait_complete(admin: asyncpg.Connection, order_ids: list[int]) -> float:
    """Until the anonymizer's record of every order is complete; when the bench saw the last one (wall
    clock). Each poll asks only about the orders not yet seen complete, every 0.5 s while more than a
    twentieth remain and every 0.1 s after that: asking about all 10,000 ten times a second had cost
    Postgres a fifth of its CPU time in the run."""
    remaining, last_news = set(order_ids), time.monotonic()
    while remaining:
        rows = await admin.fetch(
            """SELECT order_id FROM anonymizer.order_erasures
               WHERE order_id = ANY($1::bigint[]) AND state = 'complete'""",
            list(remaining),
        )
        if rows:
            remaining.difference_update(row["order_id"] for row in rows)
            last_news = time.monotonic()
        elif time.monotonic() - last_news > STALL_SECONDS:
            raise TimeoutError(f"{len(remaining)} erasures not complete, none more for {STALL_SECONDS:.0f} s")
        if remaining:
            await asyncio.sleep(0.5 if len(remaining) > len(order_ids) / 20 else 0.1)
    return time.time()


async def step_times(admin: asyncpg.Connection, order_ids: list[int]) -> list[tuple[str, str, dict[int, float]]]:
    """When each step of each order's erasure was done, from the services' own rows."""

    async def times(query: str, *arguments: object) -> dict[int, float]:
        return {row["order_id"]: row["at"].timestamp() for row in await admin.fetch(query, order_ids, *arguments)}

    steps = [
        (
            "order anonymized",
            "order_api",
            await times("SELECT id AS order_id, updated_at AS at FROM order_api.orders WHERE id = ANY($1::bigint[])"),
        ),
        (
            REQUESTED_STEP,
            "anonymizer: order.anonymized",
            await times(
                """SELECT order_id, requested_at AS at FROM anonymizer.order_erasures
                   WHERE order_id = ANY($1::bigint[])"""
            ),
        ),
    ]
    receipts = """SELECT r.order_id, r.received_at AS at FROM anonymizer.erasure_receipts r
                  JOIN anonymizer.order_erasures e USING (erasure_id)
                  WHERE e.order_id = ANY($1::bigint[]) AND r.service = $2"""
    for service in RECEIPT_SERVICES:
        # The anonymizer records its own receipt as it opens the record, on `order.anonymized`.
        by = "anonymizer: order.anonymized" if service == ANONYMIZER.name else f"{service}: erasure.requested"
        steps.append((f"receipt: {service}", by, await times(receipts, service)))
    return steps


def step_rows(steps: list[tuple[str, str, dict[int, float]]], sent: Sent, started: float) -> list[list[object]]:
    """p50/p99 of each step since the order's request was sent; for a receipt, p50/p99 since the
    anonymizer asked for it (the service's own erasure, queueing included); the rate the orders got
    through the step (from the first request to the step's last), and its inverse: wall ms per order."""
    requested = next(done for step, _, done in steps if step == REQUESTED_STEP)
    rows: list[list[object]] = []
    for step, by, done in steps:
        since = sorted(at - sent.at[order_id] for order_id, at in done.items() if order_id in sent.at)
        after = sorted(at - requested[order_id] for order_id, at in done.items() if order_id in requested)
        receipt = step.startswith("receipt")
        span = max(max(done.values(), default=started) - started, 1e-9)
        rows.append(
            [
                step,
                by,
                len(done),
                f"{percentile(since, 0.5) * 1000:,.0f} / {percentile(since, 0.99) * 1000:,.0f}",
                f"{percentile(after, 0.5) * 1000:,.0f} / {percentile(after, 0.99) * 1000:,.0f}" if receipt else "",
                f"{len(done) / span:,.0f}",
                f"{span / max(len(done), 1) * 1000:.2f}",
            ]
        )
    return rows


def cpu_rows(cpu: dict[str, float], count: int, seconds: float) -> list[list[object]]:
    """Each process's CPU time per order and its share of one core over the run."""
    return [
        [name, f"{used:.1f}", f"{used / max(count, 1) * 1000:.2f}", f"{used / seconds:.0%}"]
        for name, used in sorted(cpu.items(), key=lambda item: -item[1])
    ]


def cpu_summary(cpu: dict[str, float], count: int, seconds: float) -> str:
    """The table of `cpu_rows`, then all the processes' CPU time per order and the cores they kept busy."""
    total = sum(cpu.values())
    return (
        table(["process", "CPU s", "CPU ms/order", "of one core"], cpu_rows(cpu, count, seconds))
        + f"\n\nall processes: {total / max(count, 1) * 1000:.2f} ms of CPU per order "
        f"({total / seconds:.2f} cores busy)"
    )


# The consumer group of each service the benchmarks run, by its setting: their own, so other instances
# of the services on the same broker keep theirs.
BENCH_GROUPS: Final = {
    "ORDER_API_CONSUMER_GROUP": "order_api_bench",
    "CANCELLATION_CONSUMER_GROUP": "cancellation_worker_bench",
    "WEBHOOKS_CONSUMER_GROUP": "webhook_dispatcher_bench",
    "ANONYMIZER_CONSUMER_GROUP": "anonymizer_bench",
}


async def skip_to_the_end(bootstrap: str) -> None:
    """Commit every benchmark group's offsets at the end of every topic: what tests and earlier runs
    left there (erasure requests and receipts for other databases' orders, say) is not this run's work,
    and weighed on its figures while the groups worked through it."""
    for group in BENCH_GROUPS.values():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, partition) for topic in EVENT_TOPICS for partition in range(PARTITIONS)]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            await consumer.commit({partition: OffsetAndMetadata(end, "") for partition, end in ends.items()})
        finally:
            await consumer.stop()


def start_services(dsn: str, bootstrap: str, args: argparse.Namespace) -> dict[str, ServiceProcess]:
    """The four services, each consuming in a group of its own (BENCH_GROUPS)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **BENCH_GROUPS,
        # The run measures the erasure, not its re-sending: no record is due while it lasts.
        "ANONYMIZER_RECEIPT_DEADLINE_SECONDS": str(args.deadline),
        # Nothing is mailed (no cancellation); should anything be, it fails here instead of reaching a sink.
        "CANCELLATION_SMTP_PORT": str(free_port()),
    }
    started: dict[str, ServiceProcess] = {}
    try:
        for spec in (ORDER_API, CANCELLATION_WORKER, WEBHOOK_DISPATCHER, ANONYMIZER):
            process = ServiceProcess(spec, (dsn, bootstrap), LOG_DIR, env)
            process.start()
            started[spec.name] = process
    except BaseException:
        stop_services(started)
        raise
    return started


def stop_services(processes: dict[str, ServiceProcess]) -> None:
    for process in reversed(list(processes.values())):
        code = process.terminate()
        if code not in (0, -signal.SIGTERM):
            print(f"{process.spec.name} exited with {code}; log: {process.log_path}", file=sys.stderr)


async def committed(admin: asyncpg.Connection) -> int:
    """Transactions committed in the database so far (every service's, and the bench's polls)."""
    count: int = await admin.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    return count


async def subscribe_receiver(dispatcher: str, api_key: str, receiver: Receiver) -> str:
    async with httpx.AsyncClient(base_url=dispatcher, headers={"authorization": f"Bearer {api_key}"}) as api:
        response = await api.post("/webhooks", json={"url": receiver.url, "event_types": ["order.created"]})
        response.raise_for_status()
        endpoint_id: str = response.json()["id"]
        return endpoint_id


async def whole_system(
    dsn: str, bootstrap: str, args: argparse.Namespace
) -> tuple[asyncpg.Connection, Receiver, dict[str, ServiceProcess], dict[str, int]]:
    """On the scratch database `dsn` (its admin DSN): a connection as its admin (the webhook tables
    emptied), the receiver, the four services started (`start_services`) at the end of the topics
    (`skip_to_the_end`), and the pid of every process to measure by name."""
    admin = await asyncpg.connect(dsn)
    # Endpoints an interrupted run left behind would take their share of every event.
    await admin.execute("TRUNCATE webhooks.endpoints, webhooks.messages, webhooks.attempts")
    receiver = Receiver()
    await skip_to_the_end(bootstrap)
    processes = start_services(dsn, bootstrap, args)
    return admin, receiver, processes, {name: process.pid for name, process in processes.items()} | local_stack_pids()


async def main(args: argparse.Namespace) -> None:
    admin_dsn, bootstrap = ensure_stack()
    admin, receiver, processes, pids = await whole_system(await bench_database(admin_dsn), bootstrap, args)
    order_api, anonymizer = processes[ORDER_API.name].url, processes[ANONYMIZER.name].url
    try:
        await subscribe_receiver(processes[WEBHOOK_DISPATCHER.name].url, args.api_key, receiver)
        seeding = time.monotonic()
        seeded = await seed(order_api, args.api_key, args)
        order_ids = seeded.all
        await wait_consumed(admin, order_ids)
        print(f"seeded {len(order_ids):,} orders in {time.monotonic() - seeding:.1f} s", file=sys.stderr)
        await asyncio.sleep(1.0)  # the relays' last passes and the consumers' commits settle
        cpu_before = cpu_by_process(pids)
        xacts_before = await admin.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        started = time.time()
        sent = await anonymize(order_api, anonymizer, args.api_key, seeded, args)
        answered = time.time()
        finished = await wait_complete(admin, order_ids)
        cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_by_process(pids).items()}
        xacts = await committed(admin)
        steps = await step_times(admin, order_ids)
        resent = await admin.fetchval(
            "SELECT count(*) FROM anonymizer.order_erasures WHERE order_id = ANY($1::bigint[]) AND attempt > 1",
            order_ids,
        )
    finally:
        await admin.close()
        stop_services(processes)
        receiver.stop()
    seconds = finished - started
    count = len(order_ids)
    print()
    print(
        f"{count:,} orders anonymized ({len(seeded.by_elastic_path):,} through Elastic Path in batches of "
        f"{args.batch}, {count - len(seeded.by_elastic_path):,} through {len(seeded.by_customer)} customer "
        f"erasures), every receipt in: {seconds:.1f} s, {count / seconds:,.0f} orders/s "
        f"(requests all answered after {answered - started:.1f} s; {resent} records re-sent)"
    )
    print()
    print(
        table(
            [
                "step done",
                "by",
                "orders",
                "p50 / p99 ms since asked",
                "since requested",
                "orders/s through it",
                "wall ms/order",
            ],
            step_rows(steps, sent, started),
        )
    )
    print()
    print(cpu_summary(cpu, count, seconds))
    print(f"Postgres transactions committed: {xacts - xacts_before:,}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="orders anonymized, half through each door")
    parser.add_argument("--batch", type=int, default=100, help="ids per Elastic Path call, orders per customer")
    parser.add_argument("--in-flight", type=int, default=4, help="calls in flight on each door")
    parser.add_argument("--concurrency", type=int, default=32, help="creates in flight while seeding")
    parser.add_argument("--deadline", type=float, default=600.0, help="ANONYMIZER_RECEIPT_DEADLINE_SECONDS")
    parser.add_argument("--api-key", default=LOCAL_API_KEY, help="a key with orders:write and orders:anonymize")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 100:
        parser.error("--batch is 1 to 100 (Elastic Path takes at most 100 ids a call)")
    if args.orders < 2 * args.batch:
        parser.error("--orders must be at least twice --batch")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
