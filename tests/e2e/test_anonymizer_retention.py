"""Retention on the real stack, the services as processes: with ANONYMIZER_RETENTION_DAYS=0 (as soon as
eligible) an order created and then cancelled through Haravan is anonymized without anyone asking:
`GET /v2/orders/{id}` shows it anonymized, and its erasure under the anonymizer's `retention` request
completes with every service's receipt; an open order next to it is left alone. The sweep logs its progress
without personal data and counts in /metrics."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from tests.e2e.conftest import EVERY_RECEIPT
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, order_body

ANONYMIZER_KEY = {"authorization": f"Bearer {LOCAL_API_KEY}"}


# The orders retention would take (eligible, not anonymized, not asked for yet), with their eligibility
# set aside in the anonymizer's copy, as order_api said it.
SET_ASIDE = """WITH due AS (
        SELECT order_id, eligible_since FROM anonymizer.known_orders k
        WHERE eligible_since IS NOT NULL AND NOT anonymized
          AND NOT EXISTS (SELECT 1 FROM anonymizer.order_erasures e WHERE e.order_id = k.order_id)
        FOR UPDATE
    )
    UPDATE anonymizer.known_orders k SET eligible_since = NULL FROM due WHERE k.order_id = due.order_id
    RETURNING k.order_id, due.eligible_since"""
# Their eligibility back, unless an event has said otherwise meanwhile.
PUT_BACK = """UPDATE anonymizer.known_orders k SET eligible_since = back.eligible_since
    FROM unnest($1::bigint[], $2::timestamptz[]) AS back (order_id, eligible_since)
    WHERE k.order_id = back.order_id AND k.eligible_since IS NULL"""


@pytest.fixture
async def anonymizer(system: dict[str, ServiceProcess], admin_db: asyncpg.Connection) -> AsyncIterator[ServiceProcess]:
    """The system's anonymizer with retention on (0 days, a sweep every half second), started again as it
    was afterwards. Orders that earlier tests and runs left due are out of its reach meanwhile: the sweep
    takes the longest eligible first, so on a long-used stack thousands of them (each one's erasure with
    its receipts) would come before this test's order, and the test would wait on the database's
    history."""
    set_aside = await admin_db.fetch(SET_ASIDE)
    try:
        retention = {"ANONYMIZER_RETENTION_DAYS": "0", "ANONYMIZER_RETENTION_INTERVAL_SECONDS": "0.5"}
        with system["anonymizer"].restarted(retention) as restarted:
            yield restarted
    finally:
        await admin_db.execute(PUT_BACK, [row[0] for row in set_aside], [row[1] for row in set_aside])


async def create(http: httpx.AsyncClient, api: str, email: str) -> int:
    body = order_body(email=email)
    body["order"] |= {"financial_status": "pending", "phone": "+15550177"}  # nothing paid: no refund to wait for
    created = await http.post(api + CREATE_PATH, json=body)
    assert created.status_code == 201, created.text
    order_id: int = created.json()["order"]["id"]
    return order_id


async def shown(http: httpx.AsyncClient, api: str, order_id: int) -> dict[str, Any]:
    fetched = await http.get(f"{api}/v2/orders/{order_id}")
    assert fetched.status_code == 200, fetched.text
    order: dict[str, Any] = fetched.json()["data"]
    return order


async def test_a_cancelled_order_is_anonymized_by_retention_and_an_open_one_is_not(
    system: dict[str, ServiceProcess],
    anonymizer: ServiceProcess,
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
) -> None:
    api = system["order_api"].url
    kept_email = f"keep.{uuid.uuid4().hex[:8]}@example.com"
    erased_email = f"retain.{uuid.uuid4().hex[:8]}@example.com"
    kept = await create(http, api, kept_email)
    erased = await create(http, api, erased_email)
    # Both are in the anonymizer's copy before the cancel, so every sweep that takes the cancelled one
    # has seen the open one too.
    known = "SELECT count(*) FROM anonymizer.known_orders WHERE order_id = ANY($1::bigint[])"
    await eventually(lambda: admin_db.fetchval(known, [kept, erased]), lambda count: count == 2, timeout=30)

    cancelled = await http.post(f"{api}/com/orders/{erased}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text

    order = await eventually(lambda: shown(http, api, erased), lambda order: order["anonymized"], timeout=60)
    assert order["contact"]["email"] == "*"
    assert erased_email not in str(order)

    # The anonymizer's retention request over the order completes with every service's receipt.
    request_id = await eventually(
        lambda: admin_db.fetchval(
            "SELECT request_id FROM anonymizer.erasure_request_orders WHERE order_id = $1", erased
        ),
        lambda found: found is not None,
        timeout=30,
    )

    async def request() -> dict[str, Any]:
        seen = await http.get(f"{anonymizer.url}/erasures/{request_id}", headers=ANONYMIZER_KEY)
        assert seen.status_code == 200, seen.text
        answer: dict[str, Any] = seen.json()
        return answer

    def progress(answer: dict[str, Any]) -> dict[str, Any]:
        mine: list[dict[str, Any]] = [one for one in answer["orders"] if one["order_id"] == erased]
        assert len(mine) == 1, answer
        return mine[0]

    # The sweep's request may cover other orders due; this one's erasure is what completes here.
    done = await eventually(request, lambda answer: progress(answer)["state"] == "complete", timeout=60)
    assert done["kind"] == "retention"
    assert progress(done)["missing"] == []
    assert sorted(receipt["service"] for receipt in progress(done)["receipts"]) == EVERY_RECEIPT
    status = done["status"]
    listed = await http.get(f"{anonymizer.url}/erasures", params={"status": status}, headers=ANONYMIZER_KEY)
    assert listed.status_code == 200, listed.text
    assert {"id": str(request_id), "kind": "retention", "status": status}.items() <= next(
        one for one in listed.json()["items"] if one["id"] == str(request_id)
    ).items()

    # The open order is untouched: not anonymized, nothing asked for it.
    assert (await shown(http, api, kept))["anonymized"] is False
    erasures = "SELECT count(*) FROM anonymizer.order_erasures WHERE order_id = $1"
    assert await admin_db.fetchval(erasures, kept) == 0

    # Progress in the log (without the emails) and in the metrics.
    lines = anonymizer.log_path.read_text(errors="replace").splitlines()
    assert any("retention sweep asked to anonymize orders" in line and str(request_id) in line for line in lines)
    assert not any(erased_email in line or kept_email in line for line in lines)
    metrics = (await http.get(f"{anonymizer.url}/metrics")).text
    requested = next(line for line in metrics.splitlines() if line.startswith("anonymizer_retention_orders_requested"))
    assert float(requested.split()[-1]) >= 1
    assert "anonymizer_retention_orders_due " in metrics
