"""How fast the webhook dispatcher delivers, beside the ceiling of a bare httpx loop.

    .venv/bin/python -m bench.webhook_dispatch [--events 3000] [--endpoints 4] [--rate 200] [--seconds 10]

Runs against the real local stack (started if needed): one dispatcher process (`python -m
services.webhook_dispatcher`, default settings, its log in .local/bench-logs/) and a minimal keep-alive
HTTP receiver on loopback, in a process of its own, that answers 204 and notes when each `webhook-id`
arrived. So that other dispatchers and other traffic on the stack (a test run, `./dev run`, another
benchmark) neither share nor skew the work, the dispatcher uses the benchmarks' database
(bench/support.py) and consumes a scratch topic (`WEBHOOKS_EVENT_TOPICS`) instead of orders.events.

1. Throughput: `--events` order events put on the topic at once, fanned out to `--endpoints` endpoints
   on the receiver; deliveries/s from the first publish to the last receipt, and the dispatcher's CPU
   time per delivery (on a shared machine it says more about capacity than the wall-clock rate).
2. Latency: one endpoint, events published at `--rate` per second for `--seconds`; event-to-receipt
   latency (publish started -> request received) p50/p99.
3. Ceiling: a bare httpx loop (one client, as many requests in flight as the dispatcher's
   `sender_concurrency`) sending the same signed requests to the same receiver, and the ratio.

Targets (issue 4): >= 1,000 deliveries/s from one process; p99 under 100 ms at 200 events/s.
"""

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.support import bench_database, cpu_seconds, percentile
from deploy.local.stack import ensure_stack
from services.webhook_dispatcher.domain import generate_secret, sign, webhook_body
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.auth import LOCAL_API_KEY
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.services import REPO_ROOT, WEBHOOK_DISPATCHER
from shared.topics import PARTITIONS, dlq
from tests.support.processes import ServiceProcess
from tests.support.webhooks import order_event

ADMIN = {"authorization": f"Bearer {LOCAL_API_KEY}"}
LOG_DIR = REPO_ROOT / ".local" / "bench-logs"


@asynccontextmanager
async def scratch_topic(bootstrap: str) -> AsyncIterator[str]:
    """A topic (and its DLQ) of the benchmark's own, deleted afterwards."""
    topic = f"bench.webhooks.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in (topic, dlq(topic))])
        yield topic
    finally:
        await admin.delete_topics([topic, dlq(topic)])
        await admin.close()


class Receiver:
    """HTTP/1.1 keep-alive on loopback in a process of its own (so neither side waits on the other's
    GIL), answering 204 and noting when each `webhook-id` arrived; `GET /arrivals/<n>` returns the
    arrivals from the n-th on. Times are time.monotonic(), which is system-wide."""

    def __init__(self) -> None:
        parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.port: int = parent.recv()
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._seen = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def refresh(self, client: httpx.AsyncClient) -> None:
        new = (await client.get(f"http://127.0.0.1:{self.port}/arrivals/{self._seen}")).json()
        for webhook_id, at in new:
            self.arrivals[webhook_id].append(at)
        self._seen += len(new)

    def count(self, ids: set[str]) -> int:
        return sum(len(self.arrivals.get(webhook_id, ())) for webhook_id in ids)

    def stop(self) -> None:
        self._process.terminate()


def _serve(ready: Connection) -> None:
    arrivals: list[tuple[str, float]] = []

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _Protocol(arrivals), "127.0.0.1", 0)
        ready.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


class _Protocol(asyncio.Protocol):
    def __init__(self, arrivals: list[tuple[str, float]]) -> None:
        self._arrivals = arrivals
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            lines = self._buffer[:end].decode("latin-1").split("\r\n")
            length, webhook_id = 0, ""
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "webhook-id":
                    webhook_id = value.strip()
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            assert self._transport is not None
            if lines[0].startswith("GET /arrivals/"):
                start = int(lines[0].split()[1].rsplit("/", 1)[1])
                body = json.dumps(self._arrivals[start:]).encode()
                self._transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            else:
                self._arrivals.append((webhook_id, time.monotonic()))
                self._transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")


def _records(topic: str, events: list[Event]) -> list[OutgoingRecord]:
    return [OutgoingRecord(topic, event.key, event.body(), event.headers()) for event in events]


def _events(count: int) -> list[Event]:
    base = uuid.uuid4().int % 10**12
    return [order_event(10**12 + base + index, 1) for index in range(count)]


async def _wait_for(receiver: Receiver, ids: set[str], expect: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False) as client:
        while receiver.count(ids) < expect:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {receiver.count(ids)} of {expect} deliveries after {timeout} s")
            await asyncio.sleep(0.05)
            await receiver.refresh(client)


async def throughput(producer: EventProducer, topic: str, receiver: Receiver, events: int, fan_out: int) -> float:
    batch = _events(events)
    ids = {str(event.id) for event in batch}
    started = time.monotonic()
    await producer.send_all(_records(topic, batch))
    await _wait_for(receiver, ids, events * fan_out, timeout=120)
    last = max(max(receiver.arrivals[webhook_id]) for webhook_id in ids)
    return events * fan_out / (last - started)


async def latency(producer: EventProducer, topic: str, receiver: Receiver, rate: int, seconds: float) -> list[float]:
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    published: dict[str, float] = {}
    started = time.monotonic()
    for step in range(round(seconds / tick)):
        await asyncio.sleep(max(0.0, started + step * tick - time.monotonic()))
        batch = _events(per_tick)
        now = time.monotonic()
        published.update((str(event.id), now) for event in batch)
        await producer.send_all(_records(topic, batch))
    await _wait_for(receiver, set(published), len(published), timeout=60)
    return sorted((receiver.arrivals[webhook_id][0] - sent) * 1000 for webhook_id, sent in published.items())


async def ceiling(receiver: Receiver, requests: int, concurrency: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of a bare httpx loop."""
    secret = generate_secret()
    sample = order_event(1, 1)
    body = webhook_body(sample.type, sample.time, sample.data.model_dump(mode="json"))
    remaining = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in remaining:
            message_id, stamp = str(uuid.uuid4()), int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(secret, message_id, stamp, body),
                "webhook-event-type": sample.type,
            }
            response = await client.post(receiver.url, content=body, headers=headers)
            assert response.status_code == 204

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=15, trust_env=False) as client:
        started, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return requests / (time.monotonic() - started), (time.process_time() - cpu) * 1000 / requests


async def run(args: argparse.Namespace, stack: tuple[str, str]) -> dict[str, Any]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    database = await bench_database(stack[0])
    conn = await asyncpg.connect(database)
    try:  # endpoints an interrupted run left behind would take their share of every event
        await conn.execute("TRUNCATE webhooks.endpoints, webhooks.messages, webhooks.attempts")
    finally:
        await conn.close()
    receiver = Receiver()
    producer = EventProducer(stack[1], "bench")
    await producer.connect()
    try:
        async with scratch_topic(stack[1]) as topic:
            env = {"WEBHOOKS_EVENT_TOPICS": json.dumps([topic]), "WEBHOOKS_CONSUMER_GROUP": "webhook_dispatcher_bench"}
            dispatcher = ServiceProcess(WEBHOOK_DISPATCHER, (database, stack[1]), LOG_DIR, env)
            dispatcher.start()
            try:
                return await _measure(args, dispatcher, producer, topic, receiver)
            finally:
                dispatcher.terminate()
    finally:
        await producer.close()
        receiver.stop()


async def _measure(
    args: argparse.Namespace, dispatcher: ServiceProcess, producer: EventProducer, topic: str, receiver: Receiver
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=dispatcher.url, headers=ADMIN, timeout=10) as api:
        created = []
        for _ in range(args.endpoints):
            response = await api.post("/webhooks", json={"url": receiver.url, "event_types": ["order.*"]})
            response.raise_for_status()
            created.append(response.json()["id"])
        try:
            # A first event warms connections and the consumer's partition assignment.
            await throughput(producer, topic, receiver, 1, args.endpoints)
            cpu_before = cpu_seconds(dispatcher.pid)
            rate = await throughput(producer, topic, receiver, args.events, args.endpoints)
            cpu_ms = (cpu_seconds(dispatcher.pid) - cpu_before) * 1000 / (args.events * args.endpoints)
            print(
                f"dispatcher  {args.events} events x {args.endpoints} endpoints: {rate:,.0f} deliveries/s; "
                f"dispatcher CPU {cpu_ms:.2f} ms/delivery (= {1000 / cpu_ms:,.0f} deliveries per CPU-second)"
            )
            for endpoint_id in created[1:]:
                (await api.post(f"/webhooks/{endpoint_id}/disable")).raise_for_status()
            latencies = await latency(producer, topic, receiver, args.rate, args.seconds)
            bare = await ceiling(receiver, args.events * args.endpoints, DispatcherSettings().sender_concurrency)
        finally:
            for endpoint_id in created:
                await api.delete(f"/webhooks/{endpoint_id}")
    return {"rate": rate, "cpu_ms": cpu_ms, "latencies": latencies, "ceiling": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(run(args, ensure_stack()))
    latencies = result["latencies"]
    print(
        f"latency     {len(latencies)} events at {args.rate}/s, event-to-receipt: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )
    bare_rate, bare_cpu_ms = result["ceiling"]
    print(
        f"ceiling     bare httpx loop, same signed requests: {bare_rate:,.0f} requests/s; "
        f"CPU {bare_cpu_ms:.2f} ms/request (= {1000 / bare_cpu_ms:,.0f} per CPU-second)"
    )
    print(
        f"ratio       dispatcher / ceiling: {result['rate'] / bare_rate:.2f} by wall clock, "
        f"{bare_cpu_ms / result['cpu_ms']:.2f} by CPU per delivery"
    )


if __name__ == "__main__":
    main()
