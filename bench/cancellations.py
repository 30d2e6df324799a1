"""Cancellations over HTTP on the real stack, from the request to the settled refund ("Cancellations
and refunds"), and the cancel route's latency beside the create route's.

    .venv/bin/python -m bench.cancellations [--orders 3000] [--concurrency 32] [--rate 100] [--seconds 10]

Starts the local stack if needed, provisions the scratch database `orders_bench`, and runs against it
`python -m services.order_api`, `python -m services.cancellation_worker` and the payments sandbox
(`python -m deploy.sandbox.payments`, answering after `--payment-delay`), each in a consumer group of
its own (`*_bench`). Then:

- settled: `--orders` paid orders are created (not timed) and, once the worker has its copy of every
  one, cancelled by a closed loop of `--concurrency` connections (`POST /com/orders/{id}/cancel.json`,
  no restock, no email). A cancellation is settled when the worker appends the `succeeded` entry of
  its refund to its ledger (`cancellation.ledger_entries`): after order_api applied the sandbox's
  `payment.refunded` and published `order.refunded`. Settled/s runs from the first cancel sent to the
  last entry; the latency of each is from its request's send to its entry's `created_at`.
- fixed rate: `--rate` creates per second for `--seconds`, then as many cancels of paid orders at the
  same rate, latency from each request's scheduled time; p50/p99 of both, the ratio cancel/create, and
  order_api's CPU per request (for a cancel, the refund's later work in order_api included).

Also printed, for the settled run: when each step of a cancellation was done (cancel answered, refund
command sent, payment answer applied, refund settled) and the rate each kept, and the CPU time each
process used per settled cancellation, to see which one limits the rate.
"""

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from bench.support import (
    HttpConnection,
    Operation,
    Result,
    bench_database,
    closed_loop,
    cpu_by_process,
    fixed_rate,
    http_connections,
    local_stack_pids,
    measured,
    percentile,
    table,
)
from deploy.local.stack import ensure_stack
from deploy.sandbox.payments import SPEC as PAYMENTS_SANDBOX
from shared.auth import LOCAL_API_KEY
from shared.services import CANCELLATION_WORKER, ORDER_API, REPO_ROOT
from tests.support.processes import ServiceProcess, free_port
from tests.support.refunds import paid_order_body

CREATE_PATH: Final = "/com/orders.json"
# 245.47 paid with one sale, with a discount, tax and shipping; no email (no customer record, and
# nothing for the worker to mail).
PAID_BODY: Final = json.dumps(
    {"order": {name: value for name, value in paid_order_body().items() if name != "email"}}
).encode()
CANCEL_BODY: Final = json.dumps({"restock": False, "email": False}).encode()
# Give up waiting for settlements after this long without a new one.
STALL_SECONDS: Final = 60.0


class Orders:
    """order_api over keep-alive connections: creates paid orders, cancels them, notes the send times."""

    def __init__(self, url: str, api_key: str, connections: int) -> None:
        self.pool: list[HttpConnection] = http_connections(url, api_key, connections)
        self.created: list[int] = []
        self.sent: dict[int, float] = {}  # order id: wall-clock time its cancel was sent
        self.answered: dict[int, float] = {}  # order id: when its cancel's answer came
        self.refused: set[int] = set()  # orders whose cancel was not answered 200

    async def create(self, index: int) -> bool:
        status, body = await self.pool[index].request("POST", CREATE_PATH, PAID_BODY)
        if status != 201:
            return False
        self.created.append(json.loads(body)["order"]["id"])
        return True

    def canceller(self, order_ids: list[int]) -> Operation:
        """An operation cancelling the next of `order_ids` on every call."""
        todo = deque(order_ids)

        async def cancel(index: int) -> bool:
            order_id = todo.popleft()
            self.sent[order_id] = time.time()
            status, _ = await self.pool[index].request("POST", f"/com/orders/{order_id}/cancel.json", CANCEL_BODY)
            self.answered[order_id] = time.time()
            if status != 200:
                self.refused.add(order_id)  # no refund to wait for
            return status == 200

        return cancel

    async def close(self) -> None:
        for connection in self.pool:
            await connection.close()


async def paid_orders(orders: Orders, count: int, concurrency: int, admin: asyncpg.Connection) -> list[int]:
    """`count` new paid orders, once the cancellation worker has its copy of each."""
    orders.created.clear()
    result = await closed_loop("paid creates", orders.create, concurrency, limit=count)
    if result.errors:
        raise RuntimeError(f"{result.errors} of {count} creates failed")
    created = list(orders.created)
    deadline = time.monotonic() + 600
    while (
        known := await admin.fetchval(
            "SELECT count(*) FROM cancellation.orders WHERE order_id = ANY($1::bigint[])", created
        )
    ) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker knows {known} of {count} orders after 10 minutes")
        await asyncio.sleep(0.2)
    return created


async def settlements(admin: asyncpg.Connection, after: int, order_ids: list[int]) -> dict[int, float]:
    """When each order's refund was recorded `succeeded` in the worker's ledger (wall-clock seconds),
    looking at entries after position `after`; waits until every order has one or none came for
    STALL_SECONDS."""
    wanted, settled = set(order_ids), dict[int, float]()
    last_news = time.monotonic()
    while len(settled) < len(wanted) and time.monotonic() - last_news < STALL_SECONDS:
        rows = await admin.fetch(
            """SELECT position, order_id, created_at FROM cancellation.ledger_entries
               WHERE position > $1 AND entry_type = 'succeeded' ORDER BY position""",
            after,
        )
        for row in rows:
            after = row["position"]
            if row["order_id"] in wanted:
                created_at: datetime = row["created_at"]
                settled[row["order_id"]] = created_at.timestamp()
                last_news = time.monotonic()
        if len(settled) < len(wanted):
            await asyncio.sleep(0.1)
    return settled


async def ledger_position(admin: asyncpg.Connection) -> int:
    position: int = await admin.fetchval("SELECT coalesce(max(position), 0) FROM cancellation.ledger_entries")
    return position


def settled_result(name: str, orders: Orders, order_ids: list[int], settled: dict[int, float]) -> Result:
    """Settled cancellations per second from the first send to the last settlement, and each one's
    request-to-settled latency."""
    first = min(orders.sent[order_id] for order_id in order_ids)
    last = max(settled.values(), default=first)
    latencies = sorted(settled[order_id] - orders.sent[order_id] for order_id in settled)
    return Result(name, len(settled), len(order_ids) - len(settled), max(last - first, 1e-9), latencies)


@dataclass(frozen=True, slots=True)
class SettledRun:
    requests: Result  # the cancel requests, as answered
    settled: Result  # request to settled refund, with order_api's CPU
    cpu: dict[str, float]  # CPU seconds of each process meanwhile
    stages: list[list[object]]  # the table of where the time goes


async def settled_run(
    orders: Orders, admin: asyncpg.Connection, pids: dict[str, int], count: int, concurrency: int
) -> SettledRun:
    """Cancel `count` paid orders as fast as `concurrency` connections go, until every refund settled."""
    order_ids = await paid_orders(orders, count, concurrency, admin)
    after = await ledger_position(admin)
    cpu_before = cpu_by_process(pids)
    requests = await closed_loop(
        f"cancel requests, {concurrency} concurrent", orders.canceller(order_ids), concurrency, limit=count
    )
    settled = await settlements(admin, after, [one for one in order_ids if one not in orders.refused])
    cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_by_process(pids).items()}
    result = settled_result(f"cancel to settled refund, {concurrency} concurrent", orders, order_ids, settled)
    stages = await stage_rows(admin, orders, order_ids, settled)
    return SettledRun(requests, dataclasses.replace(result, cpu_seconds=cpu["order_api"]), cpu, stages)


def _times(rows: list[asyncpg.Record]) -> dict[int, float]:
    return {row["order_id"]: row["at"].timestamp() for row in rows}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


async def stage_rows(
    admin: asyncpg.Connection, orders: Orders, order_ids: list[int], settled: dict[int, float]
) -> list[list[object]]:
    """For each step of a cancellation, when it was done (wall clock, from the services' own rows):
    p50/p99 since the cancel was sent, and the rate at which the orders got through it."""
    requested = await admin.fetch(
        """SELECT order_id, created_at AS at FROM cancellation.ledger_entries
           WHERE order_id = ANY($1::bigint[]) AND entry_type = 'requested'""",
        order_ids,
    )
    # The order's last change: the payment's answer applied (nothing else changes it after the cancel).
    applied = await admin.fetch(
        "SELECT id AS order_id, updated_at AS at FROM order_api.orders WHERE id = ANY($1::bigint[])", order_ids
    )
    steps = [
        ("cancel answered", "order_api HTTP", orders.answered),
        ("refund command sent", "worker: order.cancelled", _times(requested)),
        ("payment.refunded applied", "order_api: orders.ingest", _times(applied)),
        ("refund settled (ledger)", "worker: order.refunded", settled),
    ]
    first = min(orders.sent[order_id] for order_id in order_ids)
    rows: list[list[object]] = []
    for step, by, done in steps:
        ours = {order_id: done[order_id] for order_id in order_ids if order_id in done}
        since = sorted(at - orders.sent[order_id] for order_id, at in ours.items())
        rate = len(ours) / max(max(ours.values(), default=first) - first, 1e-9)
        rows.append([step, by, _ms(percentile(since, 0.5)), _ms(percentile(since, 0.99)), f"{rate:,.0f}"])
    return rows


async def fixed_rate_runs(
    orders: Orders, admin: asyncpg.Connection, pid: int, args: argparse.Namespace
) -> tuple[Result, Result, Result]:
    """Creates, then cancels of paid orders, at `--rate` for `--seconds` each (with order_api's CPU);
    and the fixed-rate cancels' request-to-settled latency."""
    count = int(args.rate * args.seconds)
    order_ids = await paid_orders(orders, count, args.concurrency, admin)
    create = await measured(
        fixed_rate(f"create, {args.rate:g}/s fixed rate", orders.create, args.rate, args.seconds, args.slots), pid
    )
    await asyncio.sleep(1.0)  # the creates' events relayed before the cancels' CPU is counted
    after = await ledger_position(admin)
    cancel = await measured(
        fixed_rate(
            f"cancel, {args.rate:g}/s fixed rate", orders.canceller(order_ids), args.rate, args.seconds, args.slots
        ),
        pid,
    )
    settled = settled_result(
        f"cancel to settled refund, {args.rate:g}/s",
        orders,
        order_ids,
        await settlements(admin, after, [one for one in order_ids if one not in orders.refused]),
    )
    return create, cancel, settled


def row(result: Result) -> list[object]:
    return [
        result.name, result.count, result.errors, f"{result.rate:,.0f}", result.p50_ms(), result.p99_ms(),
        result.cpu_ms(),
    ]  # fmt: skip


def ratio_line(cancel: Result, create: Result) -> str:
    """The cancel route's figures over the create route's at the same fixed rate."""
    pairs = [
        ("p50", cancel.p50_ms(), create.p50_ms()),
        ("p99", cancel.p99_ms(), create.p99_ms()),
        ("order_api CPU/request", cancel.cpu_ms(), create.cpu_ms()),
    ]
    parts = [f"{name} {ours} / {theirs} ms = {float(ours) / float(theirs):.2f}" for name, ours, theirs in pairs]
    return "cancel / create at the fixed rate: " + ", ".join(parts)


def cpu_rows(cpu: dict[str, float], count: int, seconds: float) -> list[list[object]]:
    """Each process's CPU time per settled cancellation and its share of one core over the run."""
    return [
        [name, f"{used:.1f}", f"{used / max(count, 1) * 1000:.2f}", f"{used / seconds:.0%}"]
        for name, used in sorted(cpu.items(), key=lambda item: -item[1])
    ]


def start_services(dsn: str, bootstrap: str, args: argparse.Namespace) -> list[ServiceProcess]:
    """order_api, the cancellation worker and the payments sandbox, each consuming in a group of its
    own, so other instances of them on the same broker keep theirs."""
    log_dir = REPO_ROOT / ".local" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "ORDER_API_WORKERS": str(args.workers),
        "ORDER_API_CONSUMER_GROUP": "order_api_bench",
        "CANCELLATION_CONSUMER_GROUP": "cancellation_worker_bench",
        "PAYMENTS_SANDBOX_CONSUMER_GROUP": "payments_sandbox_bench",
        "PAYMENTS_SANDBOX_DELAY_SECONDS": str(args.payment_delay),
        # Cancels ask for no email; should one be sent anyway, it fails here instead of reaching a sink.
        "CANCELLATION_SMTP_PORT": str(free_port()),
    }
    processes = [
        ServiceProcess(PAYMENTS_SANDBOX, (dsn, bootstrap), log_dir, env, module="deploy.sandbox.payments"),
        ServiceProcess(CANCELLATION_WORKER, (dsn, bootstrap), log_dir, env),
        ServiceProcess(ORDER_API, (dsn, bootstrap), log_dir, env),
    ]
    started: list[ServiceProcess] = []
    try:
        for process in processes:
            process.start()
            started.append(process)
    except BaseException:
        stop_services(started)
        raise
    return processes


def stop_services(processes: list[ServiceProcess]) -> None:
    for process in reversed(processes):
        code = process.terminate()
        if code not in (0, -signal.SIGTERM):  # the sandbox's uvicorn.run ends by the signal it caught
            print(f"{process.spec.name} exited with {code}; log: {process.log_path}", file=sys.stderr)


async def main(args: argparse.Namespace) -> None:
    admin_dsn, bootstrap = ensure_stack()
    dsn = await bench_database(admin_dsn)
    processes = start_services(dsn, bootstrap, args)
    sandbox, worker, order_api = processes
    pids = {"order_api": order_api.pid, "cancellation_worker": worker.pid, "payments_sandbox": sandbox.pid}
    pids |= local_stack_pids()
    orders = Orders(order_api.url, args.api_key, max(args.concurrency, args.slots))
    admin = await asyncpg.connect(dsn)
    try:
        # Warm up: connections, pools, prepared statements, consumer groups joined, every code path.
        warm = await settled_run(orders, admin, pids, args.warm_up, args.concurrency)
        print(f"warm-up: {warm.settled.count} of {args.warm_up} settled", file=sys.stderr)
        run = await settled_run(orders, admin, pids, args.orders, args.concurrency)
        create, cancel, settled_at_rate = await fixed_rate_runs(orders, admin, order_api.pid, args)
    finally:
        await admin.close()
        await orders.close()
        stop_services(processes)
    header = ["run", "count", "errors", "per s", "p50 ms", "p99 ms", "order_api CPU ms/op"]
    print()
    print(table(header, [row(result) for result in (run.requests, run.settled, create, cancel, settled_at_rate)]))
    print()
    print(ratio_line(cancel, create))
    print()
    print(f"Where the time goes ({run.settled.count:,} cancellations settled in {run.settled.seconds:.1f} s):")
    print(table(["step done", "by", "p50 ms since sent", "p99 ms", "orders/s through it"], run.stages))
    print()
    print(
        table(
            ["process", "CPU s", "ms/cancellation", "of one core"],
            cpu_rows(run.cpu, run.settled.count, run.settled.seconds),
        )
    )
    print()
    print(f"database {dsn.rsplit('/', 1)[-1]}, order_api workers {args.workers}, payment delay {args.payment_delay} s")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3000, help="cancellations in the settled run")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight in the closed loops")
    parser.add_argument("--rate", type=float, default=100.0, help="creates, then cancels, per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each fixed-rate run")
    parser.add_argument("--slots", type=int, default=64, help="most requests in flight in the fixed-rate runs")
    parser.add_argument("--warm-up", type=int, default=200, help="cancellations settled before measuring")
    parser.add_argument("--workers", type=int, default=1, help="ORDER_API_WORKERS")
    parser.add_argument("--payment-delay", type=float, default=0.01, help="PAYMENTS_SANDBOX_DELAY_SECONDS")
    parser.add_argument("--api-key", default=LOCAL_API_KEY, help="a key with orders:write (ORDER_API_API_KEYS)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
