"""Property-based contract tests: schemathesis generates requests from each service's OpenAPI document
(valid and invalid ones) and sends them to the running service, with an API key. No answer may be a
server error, and every answer must be one the document declares (status, content type, headers,
body schema); schema-invalid input must be refused with a 4xx. Bounded so each runs in well under
60 s.

The documents are taken from the code when the tests are collected (schemathesis needs them then,
before the services run), and a test checks that each running service serves that same
`/openapi.json`."""

import random
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx
import pytest
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

from services.anonymizer.__main__ import build as build_anonymizer
from services.cancellation_worker.__main__ import build as build_cancellation_worker
from services.order_api.__main__ import build as build_order_api
from services.webhook_dispatcher.__main__ import build as build_webhook_dispatcher
from shared.auth import LOCAL_API_KEY
from shared.services import ANONYMIZER, CANCELLATION_WORKER, ORDER_API, WEBHOOK_DISPATCHER
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
DOCUMENTS: Final = {
    ORDER_API.name: build_order_api()[0].openapi(),
    WEBHOOK_DISPATCHER.name: build_webhook_dispatcher()[0].openapi(),
    ANONYMIZER.name: build_anonymizer()[0].openapi(),
    CANCELLATION_WORKER.name: build_cancellation_worker()[0].openapi(),
}
# A client address of this run's own: the guest lookups it generates count against it, not against
# other tests' (the service trusts X-Forwarded-For from loopback, as from a proxy).
CLIENT_IP: Final = f"203.0.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.mark.parametrize("service", DOCUMENTS)
async def test_each_service_serves_the_document_its_contract_test_uses(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, service: str
) -> None:
    assert (await http.get(system[service].url + "/openapi.json")).json() == DOCUMENTS[service]


class _ApiKey:
    """Every case carries the local key, as configured auth: the auth check then knows the key is
    valid and sends each operation again without it and with a wrong one, expecting 401."""

    def get(self, case: schemathesis.Case[Any], context: schemathesis.AuthContext) -> str:
        return LOCAL_API_KEY

    def set(self, case: schemathesis.Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


def _answers_as_documented(
    service: str, *, max_examples: int = 6, headers: Mapping[str, str] | None = None
) -> Callable[..., None]:
    """A test sending the generated cases of `service`'s document to the running service."""
    schema = schemathesis.openapi.from_dict(DOCUMENTS[service])
    schema.auth()(_ApiKey)

    @schema.parametrize()
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def answers_as_documented(case: schemathesis.Case[Any], system: dict[str, ServiceProcess]) -> None:
        case.call_and_validate(base_url=system[service].url, headers=dict(headers or {}), checks=CHECKS)

    test: Callable[..., None] = answers_as_documented  # schemathesis's decorator is untyped
    return test


test_order_api_answers_as_its_openapi_document_says = _answers_as_documented(
    ORDER_API.name, headers={"X-Forwarded-For": CLIENT_IP}
)
# Its bad-input rules (text, ids, times, URLs, header maps) are worth more examples; ~10 s.
test_webhook_dispatcher_answers_as_its_openapi_document_says = _answers_as_documented(
    WEBHOOK_DISPATCHER.name, max_examples=50
)
test_anonymizer_answers_as_its_openapi_document_says = _answers_as_documented(ANONYMIZER.name)
test_cancellation_worker_answers_as_its_openapi_document_says = _answers_as_documented(CANCELLATION_WORKER.name)
