"""How fast the webhook dispatcher delivers, beside the ceiling of the fastest bare loop at hand.

    .venv/bin/python -m bench.webhook_dispatch [--events 3000] [--endpoints 4] [--rate 200] [--seconds 10]

Runs against the real local stack (started if needed): one dispatcher process (`python -m
services.webhook_dispatcher`, default settings, its log in .local/bench-logs/) and a minimal keep-alive
HTTP receiver on loopback, in a process of its own, that answers 204 and notes when each `webhook-id`
arrived. So that other dispatchers and other traffic on the stack (a test run, `./dev run`, another
benchmark) neither share nor skew the work, the dispatcher uses the benchmarks' database
(bench/support.py) and consumes a scratch topic (`WEBHOOKS_EVENT_TOPICS`) instead of orders.events.

1. Throughput: `--events` order events put on the topic at once, fanned out to `--endpoints` endpoints
   on the receiver; deliveries/s from the first publish to the last receipt, and per delivery the CPU
   time of the dispatcher, of Postgres (all its processes), of Kafka and of the receiver, and the whole
   machine's busy CPU (every process on it: on a shared machine, other people's work too). On a
   shared machine the CPU figures say more about capacity than the wall-clock rate.
2. Latency: one endpoint, events published at `--rate` per second for `--seconds`; event-to-receipt
   latency (publish started -> request received) p50/p99.
3. Ceiling: the fastest loop this machine posts the same signed requests to the same receiver with:
   raw HTTP/1.1 keep-alive on asyncio streams under uvloop (the dispatcher's loop too), each request
   signed as the dispatcher signs, as many connections as the dispatcher may have requests in flight
   (`--endpoints` x `endpoint_concurrency`, at most `sender_concurrency`); beside it the bare httpx loop
   that was the ceiling until issue 12; and the dispatcher's ratios to both.

Targets (issue 12): >= 2,000 deliveries/s from one process at <= 0.5 ms of its CPU per delivery;
p50 under 5 ms and p99 under 20 ms at 200 events/s; Postgres CPU per delivery halved (was ~0.7 ms).
"""

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
import httpx
import uvloop
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.support import bench_database, cpu_by_process, local_stack_pids, machine_busy_seconds, percentile
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
        assert self._process.pid is not None
        self.pid: int = self._process.pid
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


def _signed_requests(requests: int) -> tuple[str, bytes, Iterator[tuple[str, int, str]]]:
    """The sample event's type and body every loop posts, and (webhook-id, timestamp, signature) for
    each of `requests` requests, signed as the dispatcher signs, when a loop takes it."""
    secret = generate_secret()
    sample = order_event(1, 1)
    body = webhook_body(sample.type, sample.time, sample.data.model_dump(mode="json"))

    def signatures() -> Iterator[tuple[str, int, str]]:
        for _ in range(requests):
            message_id, stamp = str(uuid.uuid4()), int(time.time())
            yield message_id, stamp, sign(secret, message_id, stamp, body)

    return sample.type, body, signatures()


async def _timed(workers: Sequence[Awaitable[None]], requests: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of running the workers to their end."""
    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*workers)
    return requests / (time.monotonic() - started), (time.process_time() - cpu) * 1000 / requests


async def ceiling(receiver: Receiver, requests: int, connections: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of raw keep-alive HTTP/1.1 on asyncio streams: each request
    signed, written in one piece, its answer's head read (the receiver's 204 has no body)."""
    event_type, body, signed = _signed_requests(requests)
    fixed = (
        f"POST /hooks HTTP/1.1\r\nhost: 127.0.0.1:{receiver.port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nwebhook-event-type: {event_type}\r\n"
    )

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        for message_id, stamp, signature in signed:
            writer.write(
                f"{fixed}webhook-id: {message_id}\r\nwebhook-timestamp: {stamp}\r\n"
                f"webhook-signature: {signature}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 204"), head
        writer.close()

    return await _timed([worker() for _ in range(connections)], requests)


async def httpx_loop(receiver: Receiver, requests: int, connections: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of the same signed requests through one httpx client: the
    benchmark's ceiling until issue 12, kept beside the real one to show what the library costs."""
    event_type, body, signed = _signed_requests(requests)

    async def worker(client: httpx.AsyncClient) -> None:
        for message_id, stamp, signature in signed:
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": signature,
                "webhook-event-type": event_type,
            }
            response = await client.post(receiver.url, content=body, headers=headers)
            assert response.status_code == 204

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=15, trust_env=False) as client:
        return await _timed([worker(client) for _ in range(connections)], requests)


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
            pids = {"dispatcher": dispatcher.pid, "receiver": receiver.pid, **local_stack_pids()}
            cpu_before, busy_before = cpu_by_process(pids), machine_busy_seconds()
            rate = await throughput(producer, topic, receiver, args.events, args.endpoints)
            cpu_after, busy_after = cpu_by_process(pids), machine_busy_seconds()
            deliveries = args.events * args.endpoints
            cpu_ms = {name: (cpu_after[name] - cpu_before[name]) * 1000 / deliveries for name in pids}
            cpu_ms["machine (busy)"] = (busy_after - busy_before) * 1000 / deliveries
            print(
                f"dispatcher  {args.events} events x {args.endpoints} endpoints: {rate:,.0f} deliveries/s; "
                f"CPU ms/delivery: " + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms.items())
            )
            for endpoint_id in created[1:]:
                (await api.post(f"/webhooks/{endpoint_id}/disable")).raise_for_status()
            latencies = await latency(producer, topic, receiver, args.rate, args.seconds)
            settings = DispatcherSettings()
            connections = min(settings.sender_concurrency, args.endpoints * settings.endpoint_concurrency)
            bare = await ceiling(receiver, deliveries, connections)
            library = await httpx_loop(receiver, deliveries, connections)
        finally:
            for endpoint_id in created:
                await api.delete(f"/webhooks/{endpoint_id}")
    return {"rate": rate, "cpu_ms": cpu_ms, "latencies": latencies, "ceiling": bare, "httpx": library}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    stack = ensure_stack()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(run(args, stack))
    latencies = result["latencies"]
    print(
        f"latency     {len(latencies)} events at {args.rate}/s, event-to-receipt: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )
    bare_rate, bare_cpu_ms = result["ceiling"]
    print(
        f"ceiling     raw keep-alive streams (uvloop), same signed requests: {bare_rate:,.0f} requests/s; "
        f"CPU {bare_cpu_ms:.2f} ms/request (= {1000 / bare_cpu_ms:,.0f} per CPU-second)"
    )
    httpx_rate, httpx_cpu_ms = result["httpx"]
    print(
        f"httpx loop  one httpx client, same signed requests (the ceiling until issue 12): {httpx_rate:,.0f} "
        f"requests/s; CPU {httpx_cpu_ms:.2f} ms/request"
    )
    dispatcher_cpu_ms = result["cpu_ms"]["dispatcher"]
    for name, (loop_rate, loop_cpu_ms) in (("ceiling", result["ceiling"]), ("httpx loop", result["httpx"])):
        print(
            f"ratio       dispatcher / {name}: {result['rate'] / loop_rate:.2f} by wall clock, "
            f"{loop_cpu_ms / dispatcher_cpu_ms:.2f} by CPU per delivery"
        )


if __name__ == "__main__":
    main()
