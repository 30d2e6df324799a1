"""The dispatcher's HTTP/1.1 client: keep-alive POSTs on asyncio streams, to vetted addresses only.

A webhook needs little of HTTP: a POST with a Content-Length body, then the answer's status, headers and
the start of its body. httpx/httpcore spent about 0.7 ms of CPU per request on that here (bench/README.md);
this client writes the request in one piece and reads the answer with a handful of stream calls.

- **Connections**: one pool per endpoint (`ConnectionPool`), keep-alive per origin. How many requests
  are in flight, and so how many connections are open, is the caller's cap (`endpoint_concurrency`).
  An idle connection is reused for `KEEPALIVE_SECONDS` unless the server closed it; a reused one that
  turns out closed before any answer came is replaced once by a new one (the server never saw the
  request, or saw it and `webhook-id` lets the receiver drop the repeat).
- **Answers**: Content-Length, chunked, or read to the end of the connection; 1xx interim answers
  skipped. Only `excerpt_bytes` of the body are kept; the rest is read off (keeping the connection)
  while it is at most `DRAIN_BYTES`, else the connection is closed: an answer of any size costs that.
- **SSRF** (safe_http.py): every new connection resolves the host itself and connects to the very
  address `Destinations` vetted, so a name rebound to an internal address is refused at connect time;
  TLS keeps the host name for SNI and the certificate check. No proxy, no redirects followed (a 3xx is
  an answer like any other), no unix sockets.
"""

import asyncio
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from types import TracebackType
from typing import Final, NamedTuple, Self

import httpx

from services.webhook_dispatcher.domain import DEFAULT_PORTS, UnsafeDestination
from services.webhook_dispatcher.safe_http import Destinations
from shared.services import project_version

# Who sends: the product and its version, not the HTTP library (an endpoint's own User-Agent wins).
USER_AGENT: Final = f"order-events-webhooks/{project_version()}"
# An idle connection older than this is closed rather than raced against the server's own keep-alive
# timeout (httpx's default as well).
KEEPALIVE_SECONDS: Final = 5.0
# What is read of an answer's body past the excerpt to keep its connection; a longer one closes it.
DRAIN_BYTES: Final = 64 * 1024
# An answer's status line and headers may take this much (asyncio's stream limit).
HEAD_BYTES: Final = 64 * 1024


# What a header line may not hold: a line break would end it and start another (header injection).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class ConnectError(OSError):
    """No connection to the endpoint: refused by the SSRF checks, unresolvable, or unreachable."""


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 this client can read."""


@dataclass(frozen=True, slots=True)
class Response:
    """An answer: its status, its headers (names in lower case) and the start of its body."""

    status: int
    headers: Mapping[str, str]
    excerpt: bytes


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


class Target(NamedTuple):
    """Where a URL's request goes: the origin to connect to, the Host header, the request target."""

    origin: Origin
    host_header: str
    path: str


@lru_cache(maxsize=1024)
def target(url: str) -> Target:
    """The URL read by the same parser the registration vetted it with (`domain.check_url`)."""
    parsed = httpx.URL(url)
    scheme = parsed.scheme
    if scheme not in DEFAULT_PORTS:
        raise UnsafeDestination(f"only http and https URLs are allowed, not {scheme!r}")
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or DEFAULT_PORTS[scheme]
    return Target(Origin(scheme, host, port), parsed.netloc.decode("ascii"), parsed.raw_path.decode("ascii"))


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    last_used: float = field(default_factory=time.monotonic)

    def reusable(self, now: float) -> bool:
        return (
            now - self.last_used < KEEPALIVE_SECONDS
            and not self.writer.is_closing()
            and not self.reader.at_eof()
            and not self.reader.exception()
        )

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    """One endpoint's keep-alive connections, each to an address `destinations` vetted."""

    def __init__(
        self,
        destinations: Destinations,
        *,
        connect_timeout: float,
        max_idle: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._destinations = destinations
        self._ssl_context = ssl_context
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = {}
        self.is_closed = False

    async def post(self, url: str, headers: Mapping[str, str], body: bytes, excerpt_bytes: int) -> Response:
        """POST `body` to `url` with `headers`; the answer with at most `excerpt_bytes` of its body."""
        where = target(url)
        request = _request(where, headers, body)
        connection = self._reusable(where.origin)
        if connection is not None:
            try:
                return await self._exchange(where.origin, connection, request, excerpt_bytes)
            except _ClosedBeforeAnswer:
                pass  # the server had closed it: once more on a new connection
        connection = await self._connect(where.origin)
        try:
            return await self._exchange(where.origin, connection, request, excerpt_bytes)
        except _ClosedBeforeAnswer as closed:
            raise ProtocolError("the server closed the connection without an answer") from closed.__cause__

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.is_closed = True
        idle = [connection for connections in self._idle.values() for connection in connections]
        self._idle.clear()
        for connection in idle:
            connection.close()

    def _reusable(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reusable(now):
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        try:
            async with asyncio.timeout(self._connect_timeout):
                address = await self._destinations.vet_host(origin.host, origin.port)
                reader, writer = await asyncio.open_connection(
                    str(address),
                    origin.port,
                    ssl=(self._ssl_context or default_ssl_context()) if origin.scheme == "https" else None,
                    server_hostname=origin.host if origin.scheme == "https" else None,
                    limit=HEAD_BYTES,
                )
        except UnsafeDestination as error:
            raise ConnectError(f"refused: {error}") from error
        except TimeoutError as error:
            raise ConnectError(f"no connection within {self._connect_timeout} s") from error
        return _Connection(reader, writer)

    async def _exchange(self, origin: Origin, connection: _Connection, request: bytes, excerpt: int) -> Response:
        keep = False
        try:
            try:
                connection.writer.write(request)
                await connection.writer.drain()
                head = await connection.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                if isinstance(error, asyncio.IncompleteReadError) and error.partial:
                    raise ProtocolError("the answer ended within its headers") from error
                raise _ClosedBeforeAnswer from error
            status, headers, version = _head(head)
            while 100 <= status < 200:  # interim answers (103 Early Hints, say)
                status, headers, version = _head(await connection.reader.readuntil(b"\r\n\r\n"))
            body, complete = await _body(connection.reader, status, headers, excerpt)
            keep = complete and version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
            return Response(status, headers, body)
        finally:
            if keep and not self.is_closed:
                connection.last_used = time.monotonic()
                idle = self._idle.setdefault(origin, [])
                idle.append(connection)
                if len(idle) > self._max_idle:
                    idle.pop(0).close()
            else:
                connection.close()


class _ClosedBeforeAnswer(Exception):
    """The connection ended before a byte of the answer came."""


def _request(where: Target, headers: Mapping[str, str], body: bytes) -> bytes:
    for name, value in headers.items():
        if _CONTROL.search(name) or _CONTROL.search(value) or ":" in name:
            raise ValueError(f"the header {name[:100]!r} cannot be sent: it holds a control character or a colon")
    lines = [f"POST {where.path} HTTP/1.1", f"host: {where.host_header}", f"content-length: {len(body)}"]
    if not any(name.lower() == "user-agent" for name in headers):
        lines.append(f"user-agent: {USER_AGENT}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.append("\r\n")
    return "\r\n".join(lines).encode("ascii") + body


def _head(head: bytes) -> tuple[int, dict[str, str], str]:
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not (code.isascii() and code.isdigit()):
        raise ProtocolError(f"not an HTTP/1.1 status line: {status_line[:100]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(code), headers, version


async def _body(
    reader: asyncio.StreamReader, status: int, headers: Mapping[str, str], excerpt: int
) -> tuple[bytes, bool]:
    """The first `excerpt` bytes of the body, and whether all of it was read (so the connection is
    ready for the next request)."""
    if status in (204, 304):
        return b"", True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _chunked(reader, excerpt)
    length_text = headers.get("content-length")
    if length_text is None:  # the body runs to the end of the connection
        kept = bytearray()
        while len(kept) < excerpt and (chunk := await reader.read(excerpt - len(kept))):
            kept += chunk
        return bytes(kept), False
    if not (length_text.isascii() and length_text.isdigit()):
        raise ProtocolError(f"an unreadable Content-Length: {length_text[:40]!r}")
    length = int(length_text)
    if length > excerpt + DRAIN_BYTES:
        return await reader.readexactly(min(length, excerpt)), False
    body = await reader.readexactly(length)
    return body[:excerpt], True


async def _chunked(reader: asyncio.StreamReader, excerpt: int) -> tuple[bytes, bool]:
    kept = bytearray()
    read = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as error:
            raise ProtocolError(f"an unreadable chunk size: {size_line[:40]!r}") from error
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return bytes(kept), True
        read += size
        if read > excerpt + DRAIN_BYTES:
            if len(kept) < excerpt:
                kept += await reader.readexactly(min(size, excerpt - len(kept)))
            return bytes(kept), False
        chunk = await reader.readexactly(size + 2)
        if len(kept) < excerpt:
            kept += chunk[: min(size, excerpt - len(kept))]


@cache
def default_ssl_context() -> ssl.SSLContext:
    """The TLS settings of webhook connections: httpx's (certifi's trust store), made once."""
    return httpx.create_ssl_context()
