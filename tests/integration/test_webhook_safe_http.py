"""The dispatcher's HTTP client connects only to the address it vetted (DNS rebinding), over real
loopback sockets; DNS answers come from a stand-in resolver, as no real name points inside here."""

from collections.abc import Awaitable, Callable, Iterator
from ipaddress import ip_network

import pytest

from services.webhook_dispatcher.domain import UnsafeDestination
from services.webhook_dispatcher.http_client import ConnectError, ConnectionPool
from services.webhook_dispatcher.safe_http import Destinations
from tests.support.receiver import WebhookReceiver

LOOPBACK = [ip_network("127.0.0.0/8")]


def _resolver(answers: list[list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    """Answers each lookup with the next of `answers` (the last one repeats)."""

    async def resolve(host: str, port: int) -> list[str]:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return resolve


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def _url(receiver: WebhookReceiver, host: str) -> str:
    return receiver.url.replace("127.0.0.1", host)


async def test_a_name_that_rebinds_to_loopback_after_vetting_is_refused_at_connect_time(
    receiver: WebhookReceiver,
) -> None:
    destinations = Destinations([], require_https=False, resolver=_resolver([["93.184.216.34"], ["127.0.0.1"]]))
    url = _url(receiver, "hooks.example.test")

    vetted = await destinations.vet_url(url)  # at registration: a public address
    async with ConnectionPool(destinations, connect_timeout=5.0, max_idle=2) as client:
        with pytest.raises(ConnectError, match=r"refused: hooks.example.test resolves to 127.0.0.1, a loopback"):
            await client.post(url, {}, b"{}", 1024)

    assert str(vetted) == "93.184.216.34"
    assert receiver.received() == []


async def test_a_name_resolving_to_a_private_address_is_refused(receiver: WebhookReceiver) -> None:
    destinations = Destinations([], require_https=False, resolver=_resolver([["10.20.30.40"]]))

    with pytest.raises(UnsafeDestination, match=r"hooks.example.test resolves to 10.20.30.40, a private address"):
        await destinations.vet_url("https://hooks.example.test/hooks")


async def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    destinations = Destinations([], require_https=False, resolver=_resolver([["93.184.216.34", "169.254.169.254"]]))

    with pytest.raises(UnsafeDestination, match="cloud metadata"):
        await destinations.vet_url("http://hooks.example.test/")


async def test_an_allow_listed_name_is_reached_at_the_vetted_address_with_its_own_host_header(
    receiver: WebhookReceiver,
) -> None:
    destinations = Destinations(LOOPBACK, require_https=False, resolver=_resolver([["127.0.0.1"]]))
    url = _url(receiver, "hooks.example.test")

    async with ConnectionPool(destinations, connect_timeout=5.0, max_idle=2) as client:
        response = await client.post(url, {}, b'{"ok":true}', 1024)

    assert response.status == 204
    [request] = receiver.received()
    assert request.headers["host"] == url.split("/")[2]
    assert request.body == b'{"ok":true}'


async def test_the_metadata_address_stays_refused_inside_an_allow_listed_subnet() -> None:
    destinations = Destinations([ip_network("169.254.0.0/16")], require_https=False)

    with pytest.raises(UnsafeDestination, match=r"169\.254\.169\.254 is a cloud metadata address"):
        await destinations.vet_url("http://169.254.169.254/latest/meta-data/")


async def test_production_settings_require_https() -> None:
    destinations = Destinations([], require_https=True, resolver=_resolver([["93.184.216.34"]]))

    with pytest.raises(UnsafeDestination, match="only to https"):
        await destinations.vet_url("http://hooks.example.test/")
    assert str(await destinations.vet_url("https://hooks.example.test/")) == "93.184.216.34"
