"""Where webhooks may go: SSRF protection at registration and again at connect time (the HTTP
client, http_client.py, vets every new connection's address here).

The dispatcher resolves a subscriber's host itself, refuses the URL unless every address is
acceptable (`domain.vet_addresses`), and then opens the TCP connection to the very address it
checked. A name that resolved to a public address at registration and to an internal one later (DNS
rebinding) is refused at connect time. The request keeps its URL, so the Host header, TLS SNI and
certificate verification still use the host name. Environment proxies are ignored: a proxy would
connect on our behalf to an address we never saw.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import ip_address

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
