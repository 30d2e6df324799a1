"""Every service's HTTP edge, spoken to over raw sockets: a stranger's body is never read, a body over
the limit is refused as soon as it is announced, and one that stops arriving does not hold the
connection."""

import asyncio
from typing import Final

import pytest

from shared.auth import LOCAL_API_KEY
from shared.services import SERVICES
from tests.support.processes import ServiceProcess

TEN_MB: Final = 10 * 1024 * 1024
KEYED: Final = ("order_api", "webhook_dispatcher")
PATHS: Final = {
    "order_api": "/com/orders.json",
    "webhook_dispatcher": "/webhooks",
    "anonymizer": "/health/live",
    "cancellation_worker": "/health/live",
}


async def exchange(process: ServiceProcess, head: str, body: bytes = b"", *, timeout: float = 15.0) -> tuple[int, str]:
    """Send `head` (and `body`, perhaps less than announced), then read the answer: (status, raw)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", process.port)
    try:
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(timeout):
            head_bytes = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head_bytes.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            answer = (head_bytes + await reader.readexactly(length)).decode(errors="replace")
    finally:
        writer.close()
    return int(answer.split(" ", 2)[1]), answer


def request_head(path: str, length: int, *, key: str | None) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", f"Content-Length: {length}"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("name", KEYED)
async def test_a_request_without_a_key_is_401_before_a_byte_of_its_body_is_sent(
    system: dict[str, ServiceProcess], name: str
) -> None:
    # Only the head goes out: the answer comes although 10 MB are announced and none has arrived.
    status, answer = await exchange(system[name], request_head(PATHS[name], TEN_MB, key=None))
    assert status == 401
    assert '"code":"unauthorized"' in answer


@pytest.mark.parametrize("name", [spec.name for spec in SERVICES])
async def test_an_announced_body_over_the_limit_is_413_before_it_is_sent(
    system: dict[str, ServiceProcess], name: str
) -> None:
    key = LOCAL_API_KEY if name in KEYED else None
    status, answer = await exchange(system[name], request_head(PATHS[name], TEN_MB, key=key))
    assert status == 413
    assert '"code":"payload_too_large"' in answer


@pytest.mark.parametrize("name", KEYED)  # the services with routes that take a body
async def test_a_body_that_stops_arriving_is_408_and_the_connection_closed(
    system: dict[str, ServiceProcess], name: str
) -> None:
    # The tests' services give a body 2 s (the production default is 30 s).
    status, answer = await exchange(system[name], request_head(PATHS[name], 100, key=LOCAL_API_KEY), b'{"order": ')
    assert status == 408
    assert '"code":"request_timeout"' in answer
    assert "connection: close" in answer.lower()
