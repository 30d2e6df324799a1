"""Which webhook destinations are refused, and why (services/webhook_dispatcher/domain.py)."""

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.webhook_dispatcher.domain import (
    UnsafeDestination,
    address_refusal,
    check_url,
    vet_addresses,
)
from services.webhook_dispatcher.http_client import target

NOTHING_ALLOWED: list[IPv4Network | IPv6Network] = []


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("100.64.0.1", "a non-public address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("fec0::1", "a site-local address"),
        ("fec0:1:2::3", "a site-local address"),
        # 6to4 (2002::/16) relays to the IPv4 address it embeds.
        ("2002:7f00:1::", "a 6to4 address embedding a loopback address"),
        ("2002:a00:1::1", "a 6to4 address embedding a private address"),
        ("2002:c0a8:101::", "a 6to4 address embedding a private address"),
        ("2002:a9fe:a9fe::", "a 6to4 address embedding a cloud metadata address"),
        ("2002:a9fe:1::", "a 6to4 address embedding a link-local address"),
        ("2002::", "a 6to4 address embedding an unspecified address"),
        # Teredo (2001::/32) as a whole, whatever it embeds.
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a private address"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a private address"),
    ],
)
def test_internal_addresses_are_refused(address: str, kind: str) -> None:
    assert address_refusal(ip_address(address), NOTHING_ALLOWED) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2002:808:808::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ip_address(address), NOTHING_ALLOWED) is None


def test_an_allow_listed_subnet_is_allowed_but_not_beyond_it() -> None:
    allowed = [ip_network("127.0.0.0/8"), ip_network("::1/128"), ip_network("10.1.0.0/16")]

    assert address_refusal(ip_address("127.0.0.1"), allowed) is None
    assert address_refusal(ip_address("::1"), allowed) is None
    assert address_refusal(ip_address("10.1.2.3"), allowed) is None
    assert address_refusal(ip_address("10.2.0.1"), allowed) == "a private address"


def test_the_metadata_address_is_refused_even_when_its_subnet_is_allowed() -> None:
    assert address_refusal(ip_address("169.254.169.254"), [ip_network("169.254.0.0/16")]) == "a cloud metadata address"


def test_a_6to4_address_is_judged_by_the_ipv4_address_it_embeds() -> None:
    allowed = [ip_network("10.1.0.0/16")]

    assert address_refusal(ip_address("2002:a01:203::"), allowed) is None
    assert address_refusal(ip_address("2002:a02:1::"), allowed) == "a 6to4 address embedding a private address"
    assert address_refusal(ip_address("2002:a00:1::"), [ip_network("2002::/16")]) == (
        "a 6to4 address embedding a private address"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/hooks", ("example.com", 80)),
        ("https://example.com/hooks", ("example.com", 443)),
        ("HTTPS://Example.COM:8443/x?y=1", ("example.com", 8443)),
        ("http://[2606:4700::1]:81/", ("2606:4700::1", 81)),
        ("http://example.com:80/", ("example.com", 80)),
        # What the client connects to: the IDNA form of an international name.
        ("https://bücher.example/hooks", ("xn--bcher-kva.example", 443)),
    ],
)
def test_check_url_gives_the_host_and_port(url: str, expected: tuple[str, int]) -> None:
    assert check_url(url, require_https=False) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("/relative/path", "must be absolute"),
        ("http:///no-host", "no host"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com:99999/", "port is invalid"),
        ("http://example.com:0/", "port is invalid: 0 is not between 1 and 65535"),
        # URLs the HTTP client refuses to send (and used to raise at every delivery attempt).
        ("http://\uff11\uff12\uff17.0.0.1:9555/x", "the URL is invalid: Invalid IDNA hostname"),
        ("http://xn--zz.example/", "the URL is invalid"),
        ("http://[::1/", "the URL is invalid"),
        ("http://example.com/\x7f", "the URL is invalid"),
        ("http://example.com/\ud800", "the URL is invalid"),
        # Parsed as the client parses it: the host is 10.0.0.1, after a user name.
        ("http://example.com\\@10.0.0.1/", "credentials"),
    ],
)
def test_check_url_refuses(url: str, says: str) -> None:
    with pytest.raises(UnsafeDestination, match=says):
        check_url(url, require_https=False)


def test_check_url_can_require_https() -> None:
    with pytest.raises(UnsafeDestination, match="only to https"):
        check_url("http://example.com/", require_https=True)
    assert check_url("https://example.com/", require_https=True) == ("example.com", 443)


def test_vet_addresses_names_the_host_and_the_address() -> None:
    with pytest.raises(UnsafeDestination) as refused:
        vet_addresses("hooks.example.com", ["93.184.216.34", "10.0.0.7"], NOTHING_ALLOWED)

    assert (
        str(refused.value) == "hooks.example.com resolves to 10.0.0.7, a private address, which webhooks may not target"
    )


def test_vet_addresses_of_a_literal_says_what_it_is() -> None:
    with pytest.raises(UnsafeDestination, match=r"^::1 is a loopback address"):
        vet_addresses("[::1]", ["::1"], NOTHING_ALLOWED)


def test_vet_addresses_picks_the_first_vetted_address() -> None:
    assert str(vet_addresses("example.com", ["93.184.216.34", "93.184.216.35"], NOTHING_ALLOWED)) == "93.184.216.34"


def test_vet_addresses_without_any_address_refuses() -> None:
    with pytest.raises(UnsafeDestination, match="does not resolve"):
        vet_addresses("example.com", [], NOTHING_ALLOWED)


def test_vet_addresses_ignores_an_ipv6_zone() -> None:
    with pytest.raises(UnsafeDestination, match="link-local"):
        vet_addresses("printer.local", ["fe80::1%eth0"], NOTHING_ALLOWED)


@settings(max_examples=300, derandomize=True)
@given(
    st.sampled_from(["http", "https", "HTTP"]),
    st.text(min_size=1, max_size=20),
    st.one_of(st.none(), st.text(max_size=6)),
    st.text(max_size=20),
)
def test_every_url_check_url_accepts_is_one_the_http_client_sends_to_that_host_and_port(
    scheme: str, host: str, port: str | None, path: str
) -> None:
    url = f"{scheme}://{host}{'' if port is None else ':' + port}/{path}"
    try:
        vetted = check_url(url, require_https=False)
    except UnsafeDestination:
        return
    origin = target(url).origin

    assert (origin.host, origin.port) == vetted
