"""Property-based contract test: schemathesis generates requests from order_api's OpenAPI document
(valid and invalid ones) and sends them to the running service, with an API key. No answer may be a
server error, and every answer must be one the document declares (status, content type, headers,
body schema); schema-invalid input must be refused with a 4xx. Bounded so it runs in well under 90 s.

The document is taken from the code when the tests are collected (schemathesis needs it then, before
the service runs), and a test checks that the running service serves that same `/openapi.json`."""

import random
from typing import Any, Final

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.order_api.__main__ import build
from shared.auth import LOCAL_API_KEY
from tests.support.processes import ServiceProcess

CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
DOCUMENT: Final = build()[0].openapi()
# A client address of this run's own: the guest lookups it generates count against it, not against
# other tests' (the service trusts X-Forwarded-For from loopback, as from a proxy).
CLIENT_IP: Final = f"203.0.{random.randrange(256)}.{random.randrange(1, 255)}"

schema = schemathesis.openapi.from_dict(DOCUMENT)


async def test_the_service_serves_the_document_the_contract_test_uses(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    assert (await http.get(system["order_api"].url + "/openapi.json")).json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_order_api_answers_as_its_openapi_document_says(
    case: schemathesis.Case[Any], system: dict[str, ServiceProcess]
) -> None:
    # The key goes into the case (not the transport), so the auth check can take it out again.
    case.headers["Authorization"] = f"Bearer {LOCAL_API_KEY}"
    case.call_and_validate(base_url=system["order_api"].url, headers={"X-Forwarded-For": CLIENT_IP}, checks=CHECKS)
