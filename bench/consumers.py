"""How fast each consumer of `orders.events` works through a backlog (issue 12, "The create path and the
whole pipeline": every consumer keeps up with what order_api can create).

    .venv/bin/python -m bench.consumers [--orders 20000] [--consumers cancellation_worker anonymizer]
                                        [--baseline /tmp/base] [--log-level INFO]

Starts the local stack if needed and provisions the scratch database `orders_bench`. Each consumer gets
a consumer group of its own for the run (`<service>_bench_<run>`), positioned at the end of every topic
the service reads, so it takes exactly the run's events. Then:

- seeding (not timed): `python -m services.order_api` creates `--templates` (20) orders over HTTP
  (bench/anonymization.py's body: an email, a customer, both addresses, a line item), and their
  `order.created` events, as order_api wrote them, are cloned `--orders` times, each clone for an order
  id of its own (drawn from order_api's sequence) and a buyer's email of its own, and published to
  `orders.events` keyed by order id with the headers order_api's relay gives them. (Creating 20,000
  orders over HTTP on this loaded box took ~5 minutes; the consumers see the same records either way.)
- measured, one consumer at a time: `python -m services.<name>` is started and works through the
  backlog. The clock starts at the first commit of its group seen to move (the process's start-up is
  not counted) and stops when its group has committed every record; the group's lag is read from the
  broker every 50 ms, so the figure is that precise.

With `--baseline DIR` (another checkout, e.g. `git worktree add /tmp/base main`), each consumer is
measured twice, first running DIR's code and then this checkout's, each on a backlog of its own made
the same way (in a group of its own): a before/after comparison under about the same load.

Printed per consumer: events/s through the backlog, and CPU milliseconds per event of the service's
process, Postgres (its backends) and the Kafka broker (`/proc`, the latter two when the local launcher
runs them), over the same interval; with Postgres' transactions committed per event. Logs are in
`.local/bench-logs/`.
"""

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg

from bench.anonymization import CREATE_PATH, LOG_DIR, order_body
from bench.support import bench_database, cpu_seconds, http_connections, local_stack_pids, table
from deploy.local.stack import ensure_stack
from shared.auth import LOCAL_API_KEY
from shared.consumer_lag import ConsumerLag
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.orders import OrderLifecycleData
from shared.services import ANONYMIZER, CANCELLATION_WORKER, ORDER_API, ServiceSpec
from shared.topics import ORDERS_EVENTS
from tests.support.consumer_groups import start_at_end
from tests.support.processes import ServiceProcess, free_port

CONSUMERS: Final = {spec.name: spec for spec in (CANCELLATION_WORKER, ANONYMIZER)}
POLL_SECONDS: Final = 0.05
PUBLISH_CHUNK: Final = 1000
# Give up after this long without progress (seeding published, or a consumer's commits).
STALL_SECONDS: Final = 120.0


@dataclass(frozen=True)
class Measured:
    name: str
    events: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds by process over the interval
    transactions: int

    def row(self) -> list[object]:
        per_event = {name: used / self.events * 1000 for name, used in self.cpu.items()}
        return [
            self.name,
            self.events,
            f"{self.seconds:.1f}",
            f"{self.events / self.seconds:,.0f}",
            f"{per_event['service']:.3f}",
            f"{per_event.get('postgres', 0):.3f}",
            f"{per_event.get('kafka', 0):.3f}",
            f"{self.cpu['service'] / self.seconds:.0%}",
            f"{self.transactions / self.events:.3f}",
        ]


async def templates(dsn: str, bootstrap: str, args: argparse.Namespace) -> list[Event]:
    """`--templates` orders created through order_api over HTTP; their `order.created` events as
    order_api wrote them to its outbox."""
    process = ServiceProcess(ORDER_API, (dsn, bootstrap), LOG_DIR, {"ORDER_API_CONSUMER_GROUP": "order_api_bench"})
    await asyncio.to_thread(process.start)
    run = uuid.uuid4().hex[:8]
    [connection] = http_connections(process.url, args.api_key, 1)
    created = []
    try:
        for number in range(args.templates):
            status, answer = await connection.request(
                "POST", CREATE_PATH, order_body(f"template-{run}-{number}@example.com", f"Buyer{number}")
            )
            if status != 201:
                raise RuntimeError(f"create answered {status}: {answer[:300]!r}")
            created.append(str(json.loads(answer)["order"]["id"]))
    finally:
        await connection.close()
        process.terminate()
    admin = await asyncpg.connect(dsn)
    try:
        rows = await admin.fetch(
            """SELECT key, body FROM order_api.outbox
               WHERE topic = $1 AND key = ANY($2::text[]) AND headers @> '[["ce_type", "order.created"]]'""",
            ORDERS_EVENTS,
            created,
        )
    finally:
        await admin.close()
    return [
        Event.new(
            "order.created", ORDER_API.name, row["key"], OrderLifecycleData.model_validate_json(row["body"]), sequence=1
        )
        for row in rows
    ]


def clone(template: Event, order_id: int, email: str) -> Event:
    """The template's event for another order of another buyer (new ids, the rest as order_api made it)."""
    data = template.data
    assert isinstance(data, OrderLifecycleData)
    customer = data.order.customer
    order = data.order.model_copy(
        update={
            "id": order_id,
            "email": email,
            "customer": customer.model_copy(update={"email": email}) if customer is not None else None,
        }
    )
    copy = data.model_copy(update={"order_id": order_id, "order": order})
    return Event.new(template.type, template.source, str(order_id), copy, sequence=1, correlation_id=uuid.uuid4().hex)


async def seed(dsn: str, bootstrap: str, args: argparse.Namespace) -> None:
    """`--orders` order.created events on orders.events: clones of the templates' events, each for an
    order id of its own drawn from order_api's sequence (so no run's order meets another's)."""
    started = time.monotonic()
    made = await templates(dsn, bootstrap, args)
    admin = await asyncpg.connect(dsn)
    try:
        first: int = await admin.fetchval(
            "SELECT setval('order_api.order_id_seq', nextval('order_api.order_id_seq') + $1) - $1", args.orders
        )
    finally:
        await admin.close()
    run = uuid.uuid4().hex[:8]
    producer = EventProducer(bootstrap, "bench-consumers")
    await producer.connect()
    try:
        for at in range(0, args.orders, PUBLISH_CHUNK):
            events = [
                clone(made[number % len(made)], first + number, f"buyer-{run}-{number}@example.com")
                for number in range(at, min(at + PUBLISH_CHUNK, args.orders))
            ]
            await producer.send_all(
                [OutgoingRecord(ORDERS_EVENTS, event.key, event.body(), event.headers()) for event in events]
            )
    finally:
        await producer.close()
    print(f"seeded {args.orders:,} order.created events in {time.monotonic() - started:.1f} s", file=sys.stderr)


async def backlog(lag: ConsumerLag) -> int:
    return sum(one.messages for one in await lag.read() if one.topic == ORDERS_EVENTS)


@dataclass(frozen=True)
class Run:
    """One consumer measured: a service, from this checkout or another (`--baseline`), in a group of
    its own."""

    spec: ServiceSpec
    group: str
    source: Path | None  # another checkout's code, or None for this one's

    @property
    def name(self) -> str:
        return self.spec.name if self.source is None else f"{self.spec.name} (baseline)"


async def measure(run: Run, stack: tuple[str, str], admin: asyncpg.Connection, args: argparse.Namespace) -> Measured:
    """Start the service on its positioned group; time and CPU from its first commit to its last."""
    spec, group = run.spec, run.group
    env = {
        f"{spec.env_prefix}CONSUMER_GROUP": group,
        f"{spec.env_prefix}LOG_LEVEL": args.log_level,
        # Nothing is mailed (no cancellation); should anything be, it fails here instead of reaching a sink.
        "CANCELLATION_SMTP_PORT": str(free_port()),
    }
    if run.source is not None:
        # The service's modules from the other checkout: not this one's (the working directory, which
        # PYTHONSAFEPATH keeps off sys.path), the same interpreter and packages.
        env |= {"PYTHONSAFEPATH": "1", "PYTHONPATH": str(run.source)}
    process = ServiceProcess(spec, stack, LOG_DIR, env, instance="" if run.source is None else "baseline")
    lag = ConsumerLag(stack[1], group, [ORDERS_EVENTS])
    await lag.start()
    starting = asyncio.create_task(asyncio.to_thread(process.start))
    try:
        total = await backlog(lag)
        left, last_news = total, time.monotonic()
        while left == total:
            if starting.done() and starting.exception() is not None:
                raise RuntimeError(f"{spec.name} did not start") from starting.exception()
            if time.monotonic() - last_news > STALL_SECONDS:
                raise TimeoutError(f"{spec.name} committed nothing in {STALL_SECONDS} s; log: {process.log_path}")
            await asyncio.sleep(POLL_SECONDS)
            left = await backlog(lag)
        pids = {"service": process.pid} | local_stack_pids()
        cpu_before, xacts_before, started = cpu_by_child(pids), await committed(admin), time.monotonic()
        counted, last_news = left, started
        while left:
            await asyncio.sleep(POLL_SECONDS)
            now = await backlog(lag)
            if now != left:
                left, last_news = now, time.monotonic()
            elif time.monotonic() - last_news > STALL_SECONDS:
                raise TimeoutError(f"{spec.name}: {left} events left, none more for {STALL_SECONDS} s")
        seconds = time.monotonic() - started
        cpu = used_since(cpu_before, cpu_by_child(pids))
        xacts = await committed(admin) - xacts_before
        await starting
    finally:
        await lag.close()
        if process.running:
            code = process.terminate()
            if code not in (0, -signal.SIGTERM):
                print(f"{spec.name} exited with {code}; log: {process.log_path}", file=sys.stderr)
    return Measured(run.name, counted, seconds, cpu, xacts)


# CPU seconds so far per process: (name, pid) for each process named and each of its child processes.
CpuByChild = dict[tuple[str, int], float]


def cpu_by_child(pids: dict[str, int]) -> CpuByChild:
    """Each named process's own CPU time and each of its children's (with theirs), apart: Postgres'
    backends come and go (the previous run's, closing as this one starts), and a sum over the live
    ones would count their going as negative time."""
    found: CpuByChild = {}
    for name, pid in pids.items():
        tasks = Path(f"/proc/{pid}/task")
        children = [int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()]
        found[name, pid] = cpu_seconds(pid) - sum(cpu_seconds(child) for child in children)
        found.update({(name, child): cpu_seconds(child) for child in children})
    return found


def used_since(before: CpuByChild, after: CpuByChild) -> dict[str, float]:
    """CPU seconds per name between the readings: a process there at the second reading counts from
    the first (from 0 if it started meanwhile); one gone by then is left out."""
    used: dict[str, float] = {}
    for (name, pid), seconds in after.items():
        used[name] = used.get(name, 0.0) + seconds - before.get((name, pid), 0.0)
    return used


async def committed(admin: asyncpg.Connection) -> int:
    count: int = await admin.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    return count


async def main(args: argparse.Namespace) -> None:
    admin_dsn, bootstrap = ensure_stack()
    dsn = await bench_database(admin_dsn)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    sources = [None] if args.baseline is None else [args.baseline, None]
    runs = [
        Run(CONSUMERS[name], f"{name}_bench_{tag}_{number}", source)
        for name in args.consumers
        for number, source in enumerate(sources)
    ]
    admin = await asyncpg.connect(dsn)
    results = []
    try:
        for run in runs:
            # A backlog of its own: the services record what they processed in their schema, so a run
            # on events another run applied would find every one a duplicate.
            await start_at_end(bootstrap, run.group)
            await seed(dsn, bootstrap, args)
            results.append(await measure(run, (dsn, bootstrap), admin, args))
    finally:
        await admin.close()
    print()
    print(
        table(
            [
                "consumer",
                "events",
                "s",
                "events/s",
                "CPU ms/event: service",
                "Postgres",
                "Kafka",
                "service busy",
                "transactions/event",
            ],
            [result.row() for result in results],
        )
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--orders", type=int, default=20_000, help="orders created: order.created events in the backlog"
    )
    parser.add_argument(
        "--consumers", nargs="+", choices=sorted(CONSUMERS), default=list(CONSUMERS), help="measured, in this order"
    )
    parser.add_argument("--templates", type=int, default=20, help="orders created over HTTP, cloned for the backlog")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (e.g. `git worktree add /tmp/base main`): each consumer measured from its code "
        "first, then from this one's, each on a backlog of its own",
    )
    parser.add_argument("--log-level", default="INFO", help="the measured services' LOG_LEVEL")
    parser.add_argument("--api-key", default=LOCAL_API_KEY, help="a key with orders:write")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
