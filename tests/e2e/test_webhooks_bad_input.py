"""The dispatcher's admin API refuses what it cannot store or send with a 422 naming the field, never
a 500: NUL and lone surrogates, header values an HTTP client cannot send, ids beyond Postgres bigint,
times that leave years 1 to 9999 in UTC."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver
from tests.support.webhooks import ADMIN, Endpoints, endpoints


@pytest.fixture
async def api(system: dict[str, ServiceProcess], http: httpx.AsyncClient) -> AsyncIterator[Endpoints]:
    async with endpoints(http, system["webhook_dispatcher"].url) as registry:
        yield registry


def _raw(body: dict[str, Any]) -> dict[str, Any]:
    # As a client may send it: JSON escapes (a lone surrogate cannot be encoded as UTF-8 otherwise).
    return {"content": json.dumps(body).encode(), "headers": {**ADMIN, "content-type": "application/json"}}


def _refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    [error] = [error for error in problem["errors"] if error["field"] == field]
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"url": "http://127.0.0.1:9/ho\x00oks"}, "url", "NUL"),
        ({"description": "crm\x00"}, "description", "NUL"),
        ({"description": "crm\ud800"}, "description", "lone surrogate"),
        ({"headers": {"X-Token": "abc\x00"}}, "headers.X-Token", "HTTP header value"),
        ({"headers": {"X-Token": "abc\ud800"}}, "headers.X-Token", "HTTP header value"),
        ({"headers": {"X-Token": "café"}}, "headers.X-Token", "HTTP header value"),
        ({"headers": {"X-Token": " padded"}}, "headers.X-Token", "HTTP header value"),
    ],
)
async def test_a_registration_or_change_with_unstorable_or_unsendable_text_is_refused(
    api: Endpoints, receiver: WebhookReceiver, changes: dict[str, Any], field: str, says: str
) -> None:
    endpoint = await api.register(receiver.url)

    created = await api.http.post(f"{api.url}/webhooks", **_raw({"url": receiver.url, **changes}))
    patched = await api.http.patch(f"{api.url}/webhooks/{endpoint['id']}", **_raw(changes))

    assert says in _refused(created, field)
    assert says in _refused(patched, field)


async def test_a_message_id_beyond_postgres_bigint_is_refused(api: Endpoints, receiver: WebhookReceiver) -> None:
    endpoint = await api.register(receiver.url)

    retried = await api.call("POST", f"/webhooks/{endpoint['id']}/messages/{2**63}/retry")

    _refused(retried, "message_id")


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00"])
async def test_a_time_outside_years_1_to_9999_in_utc_is_refused(
    api: Endpoints, receiver: WebhookReceiver, since: str
) -> None:
    endpoint = await api.register(receiver.url)

    listed = await api.call("GET", f"/webhooks/{endpoint['id']}/messages", params={"since": since})
    until = await api.call("GET", f"/webhooks/{endpoint['id']}/messages", params={"until": since})
    recovered = await api.call("POST", f"/webhooks/{endpoint['id']}/recover", json={"since": since})

    assert "outside the years 1 to 9999" in _refused(listed, "since")
    assert "outside the years 1 to 9999" in _refused(until, "until")
    assert "outside the years 1 to 9999" in _refused(recovered, "since")
