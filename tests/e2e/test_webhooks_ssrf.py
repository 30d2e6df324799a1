"""SSRF: a dispatcher configured as production is (no allow-listed subnets) refuses internal URLs."""

from collections.abc import Iterator

import httpx
import pytest

from shared.services import WEBHOOK_DISPATCHER
from tests.e2e.conftest import FAST_SETTINGS, LOG_DIR
from tests.support.processes import ServiceProcess
from tests.support.webhooks import ADMIN


@pytest.fixture(scope="module")
def strict_dispatcher(stack: tuple[str, str]) -> Iterator[ServiceProcess]:
    process = ServiceProcess(WEBHOOK_DISPATCHER, stack, LOG_DIR, {**FAST_SETTINGS, "WEBHOOKS_ALLOWED_SUBNETS": "[]"})
    process.start()
    try:
        yield process
    finally:
        process.terminate()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8080/hooks", "127.0.0.1 is a loopback address"),
        ("http://10.1.2.3/hooks", "10.1.2.3 is a private address"),
        ("http://192.168.0.10/hooks", "192.168.0.10 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:9000/hooks", "::1 is a loopback address"),
        ("http://[::ffff:10.0.0.1]/hooks", "a private address"),
        ("http://0.0.0.0/hooks", "0.0.0.0 is an unspecified address"),
        ("http://[2002:7f00:1::]:8080/hooks", "2002:7f00:1:: is a 6to4 address embedding a loopback address"),
        ("http://[2002:a9fe:a9fe::]/latest/", "a 6to4 address embedding a cloud metadata address"),
        ("http://[fec0::1]/hooks", "fec0::1 is a site-local address"),
        ("http://localhost:9000/hooks", "localhost resolves to 127.0.0.1, a loopback address"),
        ("ftp://example.com/hooks", "only http and https URLs are allowed, not 'ftp'"),
        ("file:///etc/passwd", "only http and https URLs are allowed, not 'file'"),
        ("gopher://example.com/", "only http and https URLs are allowed"),
        ("http://user:pw@example.com/", "credentials in the URL are not allowed"),
        ("http://no-such-host.invalid/hooks", "no-such-host.invalid does not resolve"),
        # Refused before any address is looked at: the HTTP client could never send to them.
        ("http://\uff11\uff12\uff17.0.0.1:9555/x", "the URL is invalid"),
        ("http://example.com:0/hooks", "the URL's port is invalid"),
    ],
)
async def test_internal_and_non_http_urls_are_refused_with_a_clear_error(
    strict_dispatcher: ServiceProcess, http: httpx.AsyncClient, url: str, says: str
) -> None:
    created = await http.post(f"{strict_dispatcher.url}/webhooks", json={"url": url}, headers=ADMIN)

    assert created.status_code == 422, created.text
    problem = created.json()
    assert problem["code"] == "url_not_allowed"
    assert says in problem["detail"]
    assert problem["errors"][0]["field"] == "url"


async def test_an_update_to_an_internal_url_is_refused_too(
    strict_dispatcher: ServiceProcess, http: httpx.AsyncClient
) -> None:
    listed = await http.get(f"{strict_dispatcher.url}/webhooks", headers=ADMIN)
    missing = "00000000-0000-4000-8000-000000000000"
    patched = await http.patch(
        f"{strict_dispatcher.url}/webhooks/{missing}", json={"url": "http://10.0.0.1/"}, headers=ADMIN
    )

    assert listed.status_code == 200
    assert (patched.status_code, patched.json()["code"]) == (422, "url_not_allowed")
