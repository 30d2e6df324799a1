"""Every running service's documents in a real browser (Debian's headless chromium) that can reach no host
but this machine: Swagger UI on /docs renders every operation of the service's OpenAPI document from
the assets the service serves itself, and the AsyncAPI page on /asyncapi shows every topic. With the
CDN FastAPI uses by default, /docs rendered nothing here."""

import asyncio
import re
from typing import Final

import httpx
import pytest

from shared.asyncapi import asyncapi_document
from shared.services import SERVICES
from tests.support.processes import ServiceProcess

# Every host name resolves to nothing, except the loopback address the services listen on.
OFFLINE: Final = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
# Virtual time lets the page's scripts run to the end (fetch the OpenAPI document, render) without
# waiting on a wall clock; the DOM is dumped when the budget is spent.
BROWSER: Final = (
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    OFFLINE,
    "--virtual-time-budget=5000",
    "--dump-dom",
)
_OPERATION_PATH: Final = re.compile(r'class="opblock-summary-path" data-path="([^"]*)"')


async def _rendered(url: str) -> str:
    browser = await asyncio.create_subprocess_exec(
        *BROWSER, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    dom, _ = await browser.communicate()
    assert browser.returncode == 0, f"chromium failed on {url}"
    return dom.decode()


async def test_swagger_ui_renders_every_operation_of_every_service_offline(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    urls = [system[spec.name].url for spec in SERVICES]
    pages = await asyncio.gather(*(_rendered(f"{url}/docs") for url in urls))
    for url, page in zip(urls, pages, strict=True):
        openapi = (await http.get(f"{url}/openapi.json")).json()
        operations = sorted(
            path for path, methods in openapi["paths"].items() for method in methods if method != "parameters"
        )
        assert sorted(_OPERATION_PATH.findall(page)) == operations, url


@pytest.mark.parametrize("service", ["order_api", "webhook_dispatcher"])
async def test_the_asyncapi_page_shows_every_topic_offline(system: dict[str, ServiceProcess], service: str) -> None:
    page = await _rendered(f"{system[service].url}/asyncapi")
    for channel in asyncapi_document()["channels"].values():
        assert f'<section id="channel-{channel["address"]}"><h3>{channel["address"]}</h3>' in page
