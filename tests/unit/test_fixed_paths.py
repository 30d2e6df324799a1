"""A fixed path (`/com/orders/count.json`) is not an id for another route's parameter: a method it does not
take answers 405 with the methods it does in Allow, as a problem document, not a 422 about an id
"count". Checked for every service's every documented path, through the app each serves (no lifespan:
a 405 is decided before anything needs the database)."""

import importlib
import re
from functools import cache
from typing import Final

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import LOCAL_API_KEY
from shared.services import SERVICES

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Elastic Path's ids are opaque text (an unknown one is its own 404), so `GET /v2/orders/anonymize`
# is the order "anonymize", as Elastic Path itself answers it: that path takes GET too.
OPAQUE_IDS: Final = {("order_api", "/v2/orders/anonymize"): {"GET"}}


@cache
def _app(service: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"services.{service}.__main__").build()[0]
    return app


def _paths(service: str) -> list[tuple[str, str, set[str]]]:
    """(service, a documented path with its parameters filled in, the methods it takes)."""
    paths = _app(service).openapi()["paths"]
    return [
        (service, filled, {method.upper() for method in operations} | OPAQUE_IDS.get((service, filled), set()))
        for path, operations in paths.items()
        for filled in [re.sub(r"\{[^}]+\}", "1", path)]
    ]


CASES: Final = [
    (service, path, method, documented)
    for service in (spec.name for spec in SERVICES)
    for service, path, documented in _paths(service)
    for method in METHODS
    if method not in documented
]


@pytest.mark.parametrize(("service", "path", "method", "documented"), CASES)
async def test_a_method_a_path_does_not_take_is_405_with_allow(
    service: str, path: str, method: str, documented: set[str]
) -> None:
    transport = httpx.ASGITransport(app=_app(service))
    headers = {"authorization": f"Bearer {LOCAL_API_KEY}", "content-type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://service", headers=headers) as client:
        answer = await client.request(method, path, content=b"{}")
    assert answer.status_code == 405, f"{method} {path}: {answer.status_code} {answer.text}"
    assert set(answer.headers["allow"].replace(" ", "").split(",")) - {"HEAD"} == documented
    body = answer.json()
    code = body.get("code") or body.get("errors")
    assert code, answer.text  # a problem document, in the dialect's shape
