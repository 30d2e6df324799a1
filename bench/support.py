"""What the benchmarks share: the scratch database, a lean HTTP/1.1 client, the load generators
(closed loop, fixed rate), CPU time from /proc, percentiles, tables."""

import asyncio
import contextlib
import dataclasses
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from deploy.local import kafka as local_kafka
from deploy.local import postgres as local_postgres
from deploy.provision import provision_database

# A database of its own, so a million benchmark orders never slow anyone's tests on the dev schema.
BENCH_DATABASE: Final = "orders_bench"
# Orders created in it are published to the same orders.events as the dev database's, and consumers
# key their records by order id: its ids start far above any the dev database will reach.
BENCH_FIRST_ORDER_ID: Final = 7_000_000_000_000_001


# bench/pipeline.py's database: made afresh for each run and dropped after it (`fresh_database`).
PIPELINE_DATABASE: Final = "orders_bench_pipeline"
# A fresh database's order ids start this many per second of the clock above BENCH_FIRST_ORDER_ID, so no
# run reuses an earlier run's (the topics still hold their events, which every consumer keys by order id).
ORDER_IDS_PER_SECOND: Final = 100_000


async def bench_database(admin_dsn: str, name: str = BENCH_DATABASE) -> str:
    """The admin DSN of the scratch database `name`, created unless it exists and provisioned (roles,
    schemas, migrations), its order ids from BENCH_FIRST_ORDER_ID on unless it is past them."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    await provision_database(dsn)
    await _first_order_id(dsn, BENCH_FIRST_ORDER_ID)
    return dsn


@contextlib.asynccontextmanager
async def fresh_database(admin_dsn: str, name: str) -> AsyncIterator[str]:
    """The admin DSN of a scratch database no earlier run has used, so what other runs left (erasure
    requests, receipts, webhooks, table bloat) costs nothing in this one: `name` dropped (an interrupted
    run may have left it), created and provisioned as `bench_database` does, its order ids above every
    earlier run's; dropped again afterwards."""
    await _drop_database(admin_dsn, name)
    try:
        dsn = await bench_database(admin_dsn, name)
        await _first_order_id(dsn, BENCH_FIRST_ORDER_ID + int(time.time()) * ORDER_IDS_PER_SECOND)
        yield dsn
    finally:
        await _drop_database(admin_dsn, name)


async def _drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _first_order_id(dsn: str, first: int) -> None:
    """Orders created in the database from now on get ids from `first` on, unless it is past them."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "SELECT setval('order_api.order_id_seq', $1) WHERE (SELECT last_value FROM order_api.order_id_seq) < $1",
            first,
        )
    finally:
        await conn.close()


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1)]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


# A connection idle this long is opened afresh rather than raced against the server's keep-alive timeout.
IDLE_SECONDS: Final = 3.0


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, just enough to POST JSON and read the answer.

    httpx costs a few hundred microseconds of CPU per request; on two cores shared with the server
    and Postgres that would measure the client, not the service."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        self._head = "".join(f"{name}: {value}\r\n" for name, value in {"host": f"{host}:{port}", **headers}.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is not None and time.monotonic() - self._last_used > IDLE_SECONDS:
            await self.close()  # the server may be closing it (uvicorn: after 5 s idle by default)
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self._writer.write(
            f"{method} {path} HTTP/1.1\r\n{self._head}content-length: {len(body)}\r\n\r\n".encode() + body
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise RuntimeError("chunked responses are not supported by this client")
        answer = await self._reader.readexactly(length)
        self._last_used = time.monotonic()
        return int(status_line.split(" ")[1]), answer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):  # the server closed it first
                await self._writer.wait_closed()
            self._writer = self._reader = None


def http_connections(url: str, api_key: str, count: int) -> list[HttpConnection]:
    """`count` keep-alive connections to a service at `url` (http://host:port) sending JSON with a key."""
    host, _, port = url.removeprefix("http://").partition(":")
    headers = {"content-type": "application/json", "authorization": f"Bearer {api_key}"}
    return [HttpConnection(host, int(port), headers) for _ in range(count)]


# One operation (a request, an insert) by worker or slot number; True when it succeeded.
Operation = Callable[[int], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    latencies: list[float]  # sorted, seconds
    cpu_seconds: float | None = None  # what the application's processes used meanwhile
    saturating: bool = True  # as fast as it goes (comparable with a ceiling), not a fixed rate

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def p50_ms(self) -> str:
        return f"{percentile(self.latencies, 0.5) * 1000:.1f}"

    def p99_ms(self) -> str:
        return f"{percentile(self.latencies, 0.99) * 1000:.1f}"

    def cpu_ms(self) -> str:
        """CPU milliseconds per operation, blank when not measured."""
        return f"{self.cpu_seconds / self.count * 1000:.2f}" if self.cpu_seconds is not None and self.count else ""

    def row(self, ratio_to: "Result | None" = None) -> list[object]:
        return [
            self.name,
            self.count,
            self.errors,
            f"{self.rate:,.0f}",
            self.p50_ms(),
            self.p99_ms(),
            self.cpu_ms(),
            f"{self.rate / ratio_to.rate:.0%}" if ratio_to and self.saturating else "",
        ]


async def closed_loop(
    name: str, operation: Operation, concurrency: int, seconds: float = math.inf, *, limit: int | None = None
) -> Result:
    """`concurrency` workers, each issuing its next operation as soon as the last one answered, for
    `seconds` or until `limit` operations have started."""
    latencies: list[float] = []
    errors = started_count = 0
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal errors, started_count
        while time.perf_counter() < deadline and (limit is None or started_count < limit):
            started_count += 1
            started = time.perf_counter()
            ok = await operation(index)
            latencies.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return Result(name, len(latencies), errors, time.perf_counter() - started, sorted(latencies))


async def fixed_rate(name: str, operation: Operation, rate: float, seconds: float, slots: int) -> Result:
    """Operations started on a fixed schedule (open loop), at most `slots` in flight; latency counted
    from each operation's scheduled time, so a stall shows up instead of slowing the generator down."""
    latencies: list[float] = []
    errors = 0
    free = asyncio.Queue[int]()
    for slot in range(slots):
        free.put_nowait(slot)
    start = time.perf_counter() + 0.05

    async def one(number: int) -> None:
        nonlocal errors
        scheduled = start + number / rate
        await asyncio.sleep(scheduled - time.perf_counter())
        slot = await free.get()
        try:
            errors += not await operation(slot)
        finally:
            free.put_nowait(slot)
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(number) for number in range(int(rate * seconds))))
    return Result(name, len(latencies), errors, time.perf_counter() - start, sorted(latencies), saturating=False)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants, live (uvicorn's workers, Postgres'
    backends) and ended (a backend whose connection closed, an autovacuum worker); 0 for a process that
    is gone."""
    try:
        task_dir = Path(f"/proc/{pid}/task")
        children = [int(child) for task in task_dir.iterdir() for child in (task / "children").read_text().split()]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # utime, stime, and cutime, cstime: the children it has waited for.
    own = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in children)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process: not idle, not waiting
    for I/O), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def measured(run: Awaitable[Result], pid: int) -> Result:
    """The run's result with the CPU time process `pid` (and its descendants) used meanwhile."""
    before = cpu_seconds(pid)
    result = await run
    return dataclasses.replace(result, cpu_seconds=cpu_seconds(pid) - before)


def local_stack_pids() -> dict[str, int]:
    """Postgres' postmaster and the Kafka broker, when the local launcher runs them for this run (not
    with DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS pointing elsewhere)."""
    pids = {
        "postgres": None if os.environ.get("DATABASE_URL") else local_postgres.running_pid(),
        "kafka": None if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else local_kafka.running_pid(),
    }
    return {name: pid for name, pid in pids.items() if pid is not None}


CLIENT: Final = "bench (client)"


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process (with its descendants), and this process's own."""
    return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, CLIENT: time.process_time()}
