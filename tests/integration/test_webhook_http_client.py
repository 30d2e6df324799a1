"""The dispatcher's HTTP client (services/webhook_dispatcher/http_client.py) over real loopback sockets,
against a server that answers with the bytes each test scripts: what it sends, how it reads answers
of every framing, and when it keeps a connection for the next request."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import ip_network

import pytest

from services.webhook_dispatcher.http_client import USER_AGENT, ConnectionPool, ProtocolError
from services.webhook_dispatcher.safe_http import Destinations
from shared.services import project_version

# The server's answer to each request, by the request's number (from 0, over all connections).
Script = Callable[[int], bytes]
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


@dataclass
class Server:
    """Reads each request whole and writes the script's answer; `close_after` ends a connection."""

    script: Script
    close_after: int | None = None
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while self.close_after is None or served < self.close_after:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.script(len(self.requests) - 1))
                await writer.drain()
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?tenant=7"


Serve = Callable[..., Awaitable[Server]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(script: Script, close_after: int | None = None) -> Server:
        server = Server(script, close_after)
        running = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        server.port = running.sockets[0].getsockname()[1]
        servers.append(running)
        return server

    yield start
    for running in servers:
        running.close()


def _pool() -> ConnectionPool:
    return ConnectionPool(Destinations([ip_network("127.0.0.0/8")], require_https=False), connect_timeout=5, max_idle=2)


async def test_a_post_carries_the_body_host_and_the_products_user_agent_and_keeps_its_connection(
    serve: Serve,
) -> None:
    server = await serve(lambda _: NO_CONTENT)
    async with _pool() as client:
        first = await client.post(server.url, {"content-type": "application/json"}, b'{"n":1}', 1024)
        second = await client.post(server.url, {}, b'{"n":2}', 1024)

    assert (first.status, second.status) == (204, 204)
    assert server.connections == 1
    head, body = server.requests[0].split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hooks?tenant=7 HTTP/1.1"
    assert f"host: 127.0.0.1:{server.port}" in lines
    assert "content-type: application/json" in lines
    assert f"user-agent: order-events-webhooks/{project_version()}" in lines
    assert f"order-events-webhooks/{project_version()}" == USER_AGENT
    assert body == b'{"n":1}'


async def test_an_endpoints_own_user_agent_is_sent_instead(serve: Serve) -> None:
    server = await serve(lambda _: NO_CONTENT)
    async with _pool() as client:
        await client.post(server.url, {"User-Agent": "acme-relay/2"}, b"{}", 1024)

    lines = server.requests[0].decode().lower().split("\r\n")
    assert [line for line in lines if line.startswith("user-agent")] == ["user-agent: acme-relay/2"]


async def test_a_chunked_answer_is_read_to_its_end_its_excerpt_kept_and_the_connection_reused(
    serve: Serve,
) -> None:
    chunked = (
        b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\nretry-after: 30\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server = await serve(lambda number: chunked if number == 0 else NO_CONTENT)
    async with _pool() as client:
        answer = await client.post(server.url, {}, b"{}", 8)
        again = await client.post(server.url, {}, b"{}", 8)

    assert (answer.status, answer.excerpt, answer.headers["retry-after"]) == (500, b"hello wo", "30")
    assert again.status == 204
    assert server.connections == 1


# Each announces far more than it sends, and keeps the connection open: the client must not wait.
@pytest.mark.parametrize(
    "huge",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n" + b"x" * 4096,
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffff\r\n" + b"x" * 4096,
    ],
)
async def test_a_huge_answer_is_read_only_as_far_as_the_excerpt_and_its_connection_closed(
    serve: Serve, huge: bytes
) -> None:
    server = await serve(lambda number: huge if number == 0 else NO_CONTENT)
    async with _pool() as client:
        answer = await client.post(server.url, {}, b"{}", 1024)
        again = await client.post(server.url, {}, b"{}", 1024)

    assert (answer.status, answer.excerpt) == (200, b"x" * 1024)
    assert again.status == 204
    assert server.connections == 2


async def test_an_answer_without_length_runs_to_the_connections_end(
    serve: Serve,
) -> None:
    server = await serve(lambda _: b"HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\nupstream down", close_after=1)
    async with _pool() as client:
        answer = await client.post(server.url, {}, b"{}", 1024)

    assert (answer.status, answer.excerpt) == (502, b"upstream down")


async def test_a_kept_connection_the_server_closed_meanwhile_is_replaced_by_a_new_one(
    serve: Serve,
) -> None:
    server = await serve(lambda _: NO_CONTENT, close_after=1)  # closes without saying so
    async with _pool() as client:
        first = await client.post(server.url, {}, b"{}", 1024)
        await asyncio.sleep(0.05)  # let the close arrive, as it would between two deliveries
        second = await client.post(server.url, {}, b"{}", 1024)

    assert (first.status, second.status) == (204, 204)
    assert server.connections == 2
    assert len(server.requests) == 2


async def test_interim_answers_are_skipped_and_a_non_http_answer_is_an_error(
    serve: Serve,
) -> None:
    interim = b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + NO_CONTENT
    server = await serve(lambda number: interim if number == 0 else b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    async with _pool() as client:
        answer = await client.post(server.url, {}, b"{}", 1024)
        with pytest.raises(ProtocolError, match=r"not an HTTP/1\.1 status line"):
            await client.post(server.url, {}, b"{}", 1024)

    assert answer.status == 204


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(serve: Serve) -> None:
    server = await serve(lambda _: NO_CONTENT)
    async with _pool() as client:
        with pytest.raises(ValueError, match="webhook-event-type"):
            await client.post(server.url, {"webhook-event-type": "order.created\r\nx-injected: 1"}, b"{}", 1024)

    assert server.requests == []
