"""An anonymized order stays anonymized on the real stack: an update that would put personal data back
into it (Haravan's email or note, Digital River's metadata) is refused with 409 `order_anonymized`
and changes nothing, while changes that hold no personal data (tags) and the order sent back as read
(its `*` values) are still taken."""

import uuid
from typing import Final

import asyncpg
import httpx

from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, assert_problem, order_body

VERSION: Final = "SELECT sequence FROM order_api.orders WHERE id = $1"


async def _anonymized_order(http: httpx.AsyncClient, api: str) -> int:
    body = order_body(email=f"masked-{uuid.uuid4().hex[:8]}@example.com")
    body["order"] |= {"financial_status": "pending", "note": "Ring Jane on +15550100"}
    created = await http.post(api + CREATE_PATH, json=body)
    assert created.status_code == 201, created.text
    order_id: int = created.json()["order"]["id"]
    assert (await http.post(f"{api}/com/orders/{order_id}/cancel.json", json={})).status_code == 200
    anonymized = await http.post(api + "/v2/orders/anonymize", json={"data": {"order_ids": [str(order_id)]}})
    assert anonymized.status_code == 200, anonymized.text
    return order_id


async def test_personal_data_cannot_be_put_back_into_an_anonymized_order(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection
) -> None:
    api = system["order_api"].url
    order_id = await _anonymized_order(http, api)
    haravan = f"{api}/com/orders/{order_id}.json"
    version = await admin_db.fetchval(VERSION, order_id)

    email = await http.put(haravan, json={"order": {"email": "jane.again@example.com"}})
    note = await http.put(haravan, json={"order": {"note": "Jane moved to 5 New Street"}})
    metadata = await http.post(f"{api}/orders/{order_id}", json={"metadata": {"contact": "jane@example.com"}})

    assert "email" in assert_problem(email, 409, "order_anonymized", "email")["detail"]
    assert_problem(note, 409, "order_anonymized", "note")
    assert_problem(metadata, 409, "order_anonymized", "metadata")
    assert await admin_db.fetchval(VERSION, order_id) == version
    shown = (await http.get(haravan)).json()["order"]
    assert (shown["email"], shown["note"]) == ("*", "*")

    tagged = await http.put(haravan, json={"order": {"tags": "erased"}})
    assert tagged.status_code == 200, tagged.text
    assert (tagged.json()["order"]["tags"], tagged.json()["order"]["email"]) == ("erased", "*")
    sent_back = await http.put(haravan, json={"order": {"email": "*", "note": "*", "tags": "erased, checked"}})
    assert sent_back.status_code == 200, sent_back.text
