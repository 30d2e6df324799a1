"""What the benchmarks share: the scratch database, a lean HTTP/1.1 client, percentiles, tables."""

import asyncio
import math
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from deploy.provision import provision_database

# A database of its own, so a million benchmark orders never slow anyone's tests on the dev schema.
BENCH_DATABASE: Final = "orders_bench"
# Orders created in it are published to the same orders.events as the dev database's, and consumers
# key their records by order id: its ids start far above any the dev database will reach.
BENCH_FIRST_ORDER_ID: Final = 7_000_000_000_000_001


async def bench_database(admin_dsn: str) -> str:
    """The admin DSN of the scratch database, created and provisioned (roles, schemas, migrations)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DATABASE):
            await conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await conn.close()
    dsn = urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{BENCH_DATABASE}"))
    await provision_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """SELECT setval('order_api.order_id_seq', $1)
               WHERE (SELECT last_value FROM order_api.order_id_seq) < $1""",
            BENCH_FIRST_ORDER_ID,
        )
    finally:
        await conn.close()
    return dsn


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


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, just enough to POST JSON and read the answer.

    httpx costs a few hundred microseconds of CPU per request; on two cores shared with the server
    and Postgres that would measure the client, not the service."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        self._head = "".join(f"{name}: {value}\r\n" for name, value in {"host": f"{host}:{port}", **headers}.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
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
        return int(status_line.split(" ")[1]), await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
            self._writer = self._reader = None
