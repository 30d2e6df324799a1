"""The whole order pipeline on the real stack: what an order costs from its create to its webhook.

    .venv/bin/python -m bench.pipeline [--rate 200] [--seconds 20]

Starts the local stack if needed, makes a scratch database of the run's own, `orders_bench_pipeline`
(dropped first and again afterwards, so nothing earlier runs or other benchmarks left in a database
weighs on the figures; its order ids start above every earlier run's), and runs against it every
service as a process of its own, each consuming in a group of its own (`*_bench`):
`python -m services.order_api`, `.cancellation_worker`, `.webhook_dispatcher` and `.anonymizer`
(bench/anonymization.py's), and a keep-alive webhook receiver on loopback (bench/webhook_dispatch.py's)
with one endpoint subscribed to `order.created`. Then:

- warm-up (not measured): `--rate` creates per second for 2 s, until every service has consumed them;
- measured: `--rate` creates per second for `--seconds` (`POST /com/orders.json`, an order with an
  email, a customer and both addresses, so every service has its part of it: order_api stores and
  relays it, the cancellation worker and the anonymizer keep their records of it, the dispatcher fans
  it out and delivers it), open loop on a fixed schedule, until every order's webhook has arrived and
  the anonymizer and the cancellation worker hold their record of every order.

Printed: each process's busy CPU time (`/proc`, user + system, its descendants included: uvicorn's
workers, Postgres' backends) per order over the measured window, from the first create to the last
order consumed everywhere, and the share of one core it kept busy; Postgres and the Kafka broker are
included when the local launcher runs them. The bench's own process (the load generator) is shown
apart, outside the pipeline's total; the receiver (a process of its own) is not counted. Then
create-to-receipt latency: from sending an order's create to its `order.created` webhook arriving at
the receiver, p50/p99/max, and the creates' own latency. Logs are in `.local/bench-logs/`. About two
minutes with the defaults.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Final

import asyncpg
import httpx

from bench.anonymization import (
    cpu_rows,
    cpu_summary,
    order_body,
    stop_services,
    subscribe_receiver,
    wait_consumed,
    whole_system,
)
from bench.support import (
    CLIENT,
    PIPELINE_DATABASE,
    HttpConnection,
    cpu_by_process,
    fixed_rate,
    fresh_database,
    http_connections,
    percentile,
    table,
)
from bench.webhook_dispatch import Receiver
from deploy.local.stack import ensure_stack
from shared.auth import LOCAL_API_KEY
from shared.services import ORDER_API, WEBHOOK_DISPATCHER

CREATE_PATH: Final = "/com/orders.json"
WARM_UP_SECONDS: Final = 2.0
# Give up waiting for the webhooks after this long without a new one.
STALL_SECONDS: Final = 60.0


class Creates:
    """Orders created over keep-alive connections, one per slot: when each create was sent
    (time.monotonic, as the receiver notes arrivals) by order id, and how long each took."""

    def __init__(self, url: str, api_key: str, slots: int) -> None:
        self._pool: list[HttpConnection] = http_connections(url, api_key, slots)
        self._run = uuid.uuid4().hex[:8]
        self._number = 0
        self.sent_at: dict[int, float] = {}

    async def create(self, slot: int) -> bool:
        self._number += 1
        email = f"pipeline-{self._run}-{self._number}@example.com"
        body = order_body(email, f"Buyer{self._number}")
        sent = time.monotonic()
        status, answer = await self._pool[slot].request("POST", CREATE_PATH, body)
        if status != 201:
            print(f"create answered {status}: {answer[:300]!r}", file=sys.stderr)
            return False
        self.sent_at[json.loads(answer)["order"]["id"]] = sent
        return True

    def take(self) -> dict[int, float]:
        """The orders created since the last call."""
        taken, self.sent_at = self.sent_at, {}
        return taken

    async def close(self) -> None:
        for connection in self._pool:
            await connection.close()


async def event_ids(admin: asyncpg.Connection, order_ids: list[int]) -> dict[str, int]:
    """Each order's `order.created` event id (the webhook's `webhook-id`), from order_api's outbox."""
    rows = await admin.fetch(
        """SELECT event_id, key FROM order_api.outbox
           WHERE key = ANY($1::text[]) AND headers @> '[["ce_type", "order.created"]]'""",
        [str(one) for one in order_ids],
    )
    return {str(row["event_id"]): int(row["key"]) for row in rows}


async def wait_delivered(receiver: Receiver, ids: set[str]) -> float:
    """Until a webhook of each event id has arrived; when the last one did (time.monotonic)."""
    last_news, seen = time.monotonic(), -1
    async with httpx.AsyncClient(trust_env=False) as client:
        while (count := sum(1 for one in ids if one in receiver.arrivals)) < len(ids):
            if count != seen:
                seen, last_news = count, time.monotonic()
            elif time.monotonic() - last_news > STALL_SECONDS:
                raise TimeoutError(f"{len(ids) - count} of {len(ids)} webhooks missing after {STALL_SECONDS:.0f} s")
            await asyncio.sleep(0.1)
            await receiver.refresh(client)
    return max(receiver.arrivals[one][0] for one in ids)


async def run_orders(
    admin: asyncpg.Connection, creates: Creates, receiver: Receiver, args: argparse.Namespace, seconds: float
) -> tuple[dict[int, float], dict[int, float], list[float]]:
    """Create `--rate` orders a second for `seconds` and wait until every service has consumed them;
    (when each was sent, when its webhook arrived, each create's latency)."""
    result = await fixed_rate("creates", creates.create, args.rate, seconds, args.slots)
    sent = creates.take()
    by_event = await event_ids(admin, list(sent))
    await wait_delivered(receiver, set(by_event))
    await wait_consumed(admin, list(sent))
    arrived = {order_id: receiver.arrivals[event_id][0] for event_id, order_id in by_event.items()}
    return sent, arrived, result.latencies


async def main(args: argparse.Namespace) -> None:
    admin_dsn, bootstrap = ensure_stack()
    async with fresh_database(admin_dsn, PIPELINE_DATABASE) as dsn:
        await measure(dsn, bootstrap, args)


async def measure(dsn: str, bootstrap: str, args: argparse.Namespace) -> None:
    admin, receiver, processes, pids = await whole_system(dsn, bootstrap, argparse.Namespace(deadline=600.0))
    creates = Creates(processes[ORDER_API.name].url, args.api_key, args.slots)
    try:
        await subscribe_receiver(processes[WEBHOOK_DISPATCHER.name].url, args.api_key, receiver)
        await run_orders(admin, creates, receiver, args, WARM_UP_SECONDS)
        await asyncio.sleep(1.0)  # the relays' last passes and the consumers' commits settle
        cpu_before = cpu_by_process(pids)
        started = time.monotonic()
        sent, arrived, create_latencies = await run_orders(admin, creates, receiver, args, args.seconds)
        seconds = time.monotonic() - started
        cpu = {name: used - cpu_before[name] for name, used in cpu_by_process(pids).items()}
    finally:
        await creates.close()
        await admin.close()
        stop_services(processes)
        receiver.stop()
    count = len(sent)
    client = {CLIENT: cpu.pop(CLIENT)}
    to_receipt = sorted(arrived[order_id] - sent[order_id] for order_id in arrived)
    print()
    print(
        f"{count:,} orders at {args.rate:g}/s for {args.seconds:g} s, each created, relayed, consumed by three "
        f"services and delivered to one webhook endpoint: {seconds:.1f} s from the first create to the last "
        "order consumed everywhere"
    )
    print()
    print(cpu_summary(cpu, count, seconds))
    print()
    print(table(["not counted", "CPU s", "CPU ms/order", "of one core"], cpu_rows(client, count, seconds)))
    print()
    print(
        f"create-to-receipt ({len(to_receipt):,} webhooks): p50 {percentile(to_receipt, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(to_receipt, 0.99) * 1000:.1f} ms, max {to_receipt[-1] * 1000:.1f} ms; "
        f"create alone: p50 {percentile(create_latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(create_latencies, 0.99) * 1000:.1f} ms"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="creates per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the measured run")
    parser.add_argument("--slots", type=int, default=64, help="most creates in flight")
    parser.add_argument("--api-key", default=LOCAL_API_KEY, help="a key with orders:write and webhooks:admin")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
