"""Outbound HTTP that connects only to vetted addresses: SSRF protection at registration and again
at connect time.

The dispatcher resolves a subscriber's host itself, refuses the URL unless every address is
acceptable (`domain.vet_addresses`), and then opens the TCP connection to the very address it
checked. A name that resolved to a public address at registration and to an internal one later (DNS
rebinding) is refused at connect time. The request keeps its URL, so the Host header, TLS SNI and
certificate verification still use the host name. Environment proxies are ignored: a proxy would
connect on our behalf to an address we never saw.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from ipaddress import ip_address

import httpcore
import httpx

from services.webhook_dispatcher.domain import IPAddress, Subnet, UnsafeDestination, check_url, vet_addresses

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the host itself when it is an IP literal)."""
    try:
        return [str(ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeDestination(f"{host} does not resolve: {error}") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Destinations:
    """Decides where webhooks may go, with the configured allow-list and resolver."""

    def __init__(self, allowed: Sequence[Subnet], *, require_https: bool, resolver: Resolver = resolve) -> None:
        self._allowed = list(allowed)
        self._require_https = require_https
        self._resolver = resolver

    async def vet_url(self, url: str) -> IPAddress:
        """The address `url` would be sent to; raises UnsafeDestination saying why not."""
        host, port = check_url(url, require_https=self._require_https)
        return await self.vet_host(host, port)

    async def vet_host(self, host: str, port: int) -> IPAddress:
        return vet_addresses(host, await self._resolver(host, port), self._allowed)


class _VettingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting to the vetted address instead of the host name."""

    def __init__(self, destinations: Destinations) -> None:
        self._destinations = destinations
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]]
        | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = await self._destinations.vet_host(host, port)
        except UnsafeDestination as error:
            raise httpcore.ConnectError(f"refused: {error}") from error
        return await self._inner.connect_tcp(
            str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]]
        | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: webhooks are never sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def safe_client(destinations: Destinations, *, timeout: httpx.Timeout, max_connections: int) -> httpx.AsyncClient:
    """An httpx client whose every connection goes to an address `destinations` vetted."""
    transport = httpx.AsyncHTTPTransport()
    # httpx has no public hook for the network backend; its transport wraps this httpcore pool.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        network_backend=_VettingBackend(destinations),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
