"""The Haravan order document's update, close, open and delete examples, sent to the running order_api:
each changes what it names, answers in the documented shape, and emits its event once, in sequence.
Orders the document names by id are replaced by orders the test creates."""

from typing import Final

import httpx
import pytest

from tests.support.haravan_examples import (
    assert_documented_shape,
    example,
    sample_order,
)
from tests.support.order_api_facts import AUTH, get_order, order_events
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.usefixtures("demo_catalog")


# ---- update -------------------------------------------------------------------------------------

UPDATES: Final = [
    ("Add Note to order", "note"),
    ("Set Note Attributes on an order", "note_attributes"),
    ("Change an order\N{RIGHT SINGLE QUOTATION MARK}s email", "email"),
    ("Change an order so that its buyer accepts marketing", "buyer_accepts_marketing"),
    ("Add a metafield to an existing order", "metafields"),
]


@pytest.mark.parametrize(("title", "field"), UPDATES, ids=[field for _, field in UPDATES])
async def test_update_examples_change_what_they_name(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, title: str, field: str
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api, metafields=[{"namespace": "global", "key": "old", "value": "kept"}])
    body = {"order": {**example(title)["request"]["order"], "id": order["id"]}}

    response = await http.put(f"{api}/com/orders/{order['id']}.json", json=body, headers={**AUTH, "if-match": '"1"'})

    assert response.status_code == example(title)["status"] == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert_documented_shape(example(title)["response"], response.json())
    updated = response.json()["order"]
    wanted = body["order"][field]
    if field == "metafields":  # added beside the order's own, as the example's title says
        wanted = [{"namespace": "global", "key": "old", "value": "kept", "value_type": "string"}, *wanted]
    assert updated[field] == wanted
    unchanged = {key: value for key, value in order.items() if key not in (field, "updated_at")}
    assert {key: updated[key] for key in unchanged} == unchanged
    assert await get_order(http, api, order["id"]) == updated


async def test_remove_customer_from_an_order(system: dict[str, ServiceProcess], http: httpx.AsyncClient) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)

    response = await http.put(
        f"{api}/com/orders/{order['id']}.json", json={"order": {"id": order["id"], "customer": None}}, headers=AUTH
    )

    assert order["customer"]["id"] == 207119551
    assert response.status_code == 200, response.text
    # Still the account's order, not a guest's (the guest lookup must not find it now).
    assert (response.json()["order"]["customer"], response.json()["order"]["guest"]) == (None, False)
    assert (await get_order(http, api, order["id"]))["customer"] is None


# ---- close, open, delete, and the events they emit -----------------------------------------------


async def test_close_open_delete_emit_each_event_once_in_sequence(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api, transactions=[], financial_status="pending")
    url = f"{api}/com/orders/{order['id']}"

    updated = await http.put(f"{url}.json", json={"order": {"tags": "vip, gift"}}, headers={**AUTH, "if-match": '"1"'})
    stale = await http.put(f"{url}.json", json={"order": {"note": "lost"}}, headers={**AUTH, "if-match": '"1"'})
    closed = await http.post(f"{url}/close.json", headers=AUTH)
    closed_again = await http.post(f"{url}/close.json", headers=AUTH)
    reopened = await http.post(f"{url}/open.json", headers={**AUTH, "if-match": '"3"'})
    reopened_again = await http.post(f"{url}/open.json", headers=AUTH)
    deleted = await http.delete(f"{url}.json", headers=AUTH)
    gone = await http.get(f"{url}.json", headers=AUTH)

    assert (updated.status_code, updated.json()["order"]["tags"]) == (200, "vip, gift")
    assert (stale.status_code, stale.json()["code"], stale.headers["etag"]) == (412, "version_mismatch", '"2"')
    assert (closed.status_code, closed.json()["order"]["status"], closed.headers["etag"]) == (200, "closed", '"3"')
    assert closed.json()["order"]["closed_at"] is not None
    assert (closed_again.status_code, closed_again.json()["code"]) == (409, "order_not_open")
    assert (reopened.status_code, reopened.json()["order"]["status"]) == (200, "open")
    assert reopened.json()["order"]["closed_at"] is None
    assert (reopened_again.status_code, reopened_again.json()["code"]) == (409, "order_not_closed")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert (gone.status_code, gone.json()["code"]) == (404, "order_not_found")
    events = await order_events(stack[1], order, expect=5)
    assert [(event_type, sequence) for event_type, sequence, _ in events] == [
        ("order.created", 1),
        ("order.updated", 2),
        ("order.closed", 3),
        ("order.reopened", 4),
        ("order.deleted", 5),
    ]
    assert [data.order.status for _, _, data in events] == ["open", "open", "closed", "open", "open"]


async def test_an_open_order_with_money_on_it_cannot_be_deleted(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)

    refused = await http.delete(f"{api}/com/orders/{order['id']}.json", headers=AUTH)

    assert (refused.status_code, refused.json()["code"]) == (409, "order_not_deletable")
    assert await get_order(http, api, order["id"]) == order
