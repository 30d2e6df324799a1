"""Elastic Path `POST /v2/orders/anonymize` refusing on the real stack: a batch naming an open order or an
unknown id answers Elastic Path's 422 and changes nothing, not even the eligible orders of the batch (no
new version, no `order.anonymized` in order_api's outbox, no erasure at the anonymizer); more than 100
ids is a 422 too; an accepted call repeated answers the same and changes nothing more; an id that can
name no order (beyond a bigint, not digits) is an unknown order. (The answers'
shapes are unit-tested in tests/unit/test_elastic_path_routes.py over fakes; this is the running system.)"""

import uuid
from typing import Any, Final

import asyncpg
import httpx

from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, order_body

ANONYMIZE: Final = "/v2/orders/anonymize"
TITLE: Final = "Could not anonymize orders"
ONLY: Final = "only fulfilled or refunded or cancelled orders may be anonymized"
PUBLISHED: Final = """SELECT count(*) FROM order_api.outbox
    WHERE key = $1 AND headers @> jsonb_build_array(jsonb_build_array('ce_type', $2::text))"""


def _ids(*order_ids: int | str) -> dict[str, Any]:
    return {"data": {"order_ids": [str(order_id) for order_id in order_ids]}}


async def _create(http: httpx.AsyncClient, api: str, **fields: Any) -> int:
    body = order_body(email=f"ep-{uuid.uuid4().hex[:8]}@example.com")
    body["order"] |= fields
    created = await http.post(api + CREATE_PATH, json=body)
    assert created.status_code == 201, created.text
    order_id: int = created.json()["order"]["id"]
    return order_id


async def _cancelled(http: httpx.AsyncClient, api: str) -> int:
    order_id = await _create(http, api)
    cancelled = await http.post(f"{api}/com/orders/{order_id}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text
    return order_id


async def _state(admin_db: asyncpg.Connection, order_id: int) -> tuple[object, ...]:
    """What would show a change: the order's version, its email, its `order.anonymized` events (in the
    outbox with the change's transaction, or never) and the anonymizer's erasure of it."""
    row = await admin_db.fetchrow("SELECT sequence, email, anonymized FROM order_api.orders WHERE id = $1", order_id)
    assert row is not None
    anonymized_events = await admin_db.fetchval(PUBLISHED, str(order_id), "order.anonymized")
    erasures = await admin_db.fetchval("SELECT count(*) FROM anonymizer.order_erasures WHERE order_id = $1", order_id)
    return (*row.values(), anonymized_events, erasures)


async def test_one_open_or_unknown_order_refuses_the_whole_batch_and_changes_nothing(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    api = system["order_api"].url
    eligible = await _cancelled(http, api)
    open_order = await _create(http, api, financial_status="pending")
    unknown = 9_000_000_000 + uuid.uuid4().int % 1_000_000_000
    before = await _state(admin_db, eligible), await _state(admin_db, open_order)
    assert before[0][2:] == (False, 0, 0)

    refused = await http.post(api + ANONYMIZE, json=_ids(eligible, open_order))

    assert refused.status_code == 422, refused.text
    assert refused.json() == {
        "errors": {
            "status": 422,
            "title": TITLE,
            "detail": f"Order has status: order:incomplete, payment:unpaid, shipping:unfulfilled; {ONLY}",
            "meta": {"order_id": str(open_order)},
        }
    }
    missing = await http.post(api + ANONYMIZE, json=_ids(eligible, unknown))
    assert missing.status_code == 422, missing.text
    assert missing.json() == {
        "errors": {
            "status": 422,
            "title": TITLE,
            "detail": f"Order {unknown} not found",
            "meta": {"order_id": str(unknown)},
        }
    }
    too_many = await http.post(api + ANONYMIZE, json=_ids(eligible, *range(1, 101)))
    assert too_many.status_code == 422, too_many.text
    assert too_many.json() == {
        "errors": {"status": 422, "title": TITLE, "detail": "Give between 1 and 100 order ids; got 101"}
    }

    assert (await _state(admin_db, eligible), await _state(admin_db, open_order)) == before
    shown = await http.get(f"{api}/v2/orders/{eligible}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"]["anonymized"] is False
    assert shown.json()["data"]["contact"]["email"] == before[0][1]


async def test_anonymizing_again_answers_the_same_and_changes_nothing_more(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    api = system["order_api"].url
    first_id, second_id = await _cancelled(http, api), await _cancelled(http, api)

    first = await http.post(api + ANONYMIZE, json=_ids(first_id, second_id))
    assert first.status_code == 200, first.text
    versions = await admin_db.fetch(
        "SELECT id, sequence FROM order_api.orders WHERE id = ANY($1::bigint[]) ORDER BY id", [first_id, second_id]
    )

    again = await http.post(api + ANONYMIZE, json=_ids(second_id, first_id))

    assert again.status_code == 200, again.text
    by_id = {order["id"]: order for order in first.json()["data"]}
    assert again.json()["data"] == [by_id[str(second_id)], by_id[str(first_id)]]
    assert all(order["anonymized"] for order in again.json()["data"])
    assert (
        await admin_db.fetch(
            "SELECT id, sequence FROM order_api.orders WHERE id = ANY($1::bigint[]) ORDER BY id", [first_id, second_id]
        )
        == versions
    )


async def test_an_id_that_names_no_order_is_a_404_not_a_database_error(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    for named in ("99999999999999999999", "12a", "%20"):  # beyond a bigint, not digits, blank
        answer = await http.get(f"{api}/v2/orders/{named}")
        assert answer.status_code == 404, answer.text
        assert answer.json()["errors"]["title"] == "Not Found"
    refused = await http.post(api + ANONYMIZE, json=_ids("99999999999999999999"))
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"]["meta"] == {"order_id": "99999999999999999999"}
