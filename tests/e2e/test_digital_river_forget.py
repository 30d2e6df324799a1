"""Digital River's `requestToBeForgotten` on the real stack: an order whose customer asked to be forgotten
(on create, or later on update) stays as it is while it is open, paid or not, and the anonymizer's
`GET /erasures?status=waiting` shows its request waiting; the fulfilment, or the cancel, that makes it
eligible anonymizes it by itself (nobody asks again), and its erasure then completes."""

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.order_facts import FulfillmentCreatedFact, PaymentFact
from tests.support.digital_river import client, create
from tests.support.order_api_facts import apply_facts, fact
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.storefront import assert_problem

ANONYMIZER_KEY: Final = {"authorization": f"Bearer {LOCAL_API_KEY}"}


@pytest.fixture
async def api(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with client(system) as running:
        yield running


@pytest.fixture
async def anonymizer(system: dict[str, ServiceProcess]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system["anonymizer"].url, headers=ANONYMIZER_KEY, timeout=20.0) as running:
        yield running


def _body(**fields: Any) -> dict[str, Any]:
    run = uuid.uuid4().hex[:12]
    return {
        "email": f"forget-{run}@example.com",
        "browserIp": "203.0.113.7",
        "upstreamId": f"forget-{run}",
        "items": [{"name": "Teapot", "price": "25.00", "quantity": 2}],
        "metadata": {"giftMessage": "Happy birthday, Ada"},
        **fields,
    }


async def _order(api: httpx.AsyncClient, order_id: int) -> dict[str, Any]:
    response = await api.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def _as_created(order: dict[str, Any]) -> tuple[object, ...]:
    return order["email"], order["browserIp"], order["metadata"]


async def _shown_waiting(anonymizer: httpx.AsyncClient, admin_db: asyncpg.Connection, order_id: int) -> str:
    """The order's forget request, as the anonymizer's API shows it: waiting, in the waiting list."""
    erasure_id = await eventually(
        lambda: admin_db.fetchval("SELECT erasure_id FROM anonymizer.order_erasures WHERE order_id = $1", order_id),
        lambda found: found is not None,
        timeout=30,
    )
    request = await anonymizer.get(f"/erasures/{erasure_id}")
    assert request.status_code == 200, request.text
    shown = request.json()
    assert (shown["kind"], shown["status"]) == ("forget", "waiting")
    assert [(order["order_id"], order["state"]) for order in shown["orders"]] == [(order_id, "waiting")]
    listed = await anonymizer.get("/erasures", params={"status": "waiting", "limit": 200})
    assert listed.status_code == 200, listed.text
    assert str(erasure_id) in [item["id"] for item in listed.json()["items"]]
    return str(erasure_id)


async def _anonymized_by_itself(
    api: httpx.AsyncClient, anonymizer: httpx.AsyncClient, order_id: int, erasure_id: str
) -> dict[str, Any]:
    """The order as it is once anonymized (waited for: facts are applied asynchronously), after its
    erasure's record completed."""
    order = await eventually(lambda: _order(api, order_id), lambda seen: seen["email"] == "*", timeout=30)
    await eventually(
        lambda: anonymizer.get(f"/erasures/{erasure_id}"),
        lambda answer: answer.json()["status"] == "complete",
        timeout=60,
    )
    return order


async def _pay(stack: tuple[str, str], admin_db: asyncpg.Connection, order: dict[str, Any]) -> None:
    paid = PaymentFact(order_id=order["id"], amount=Decimal(order["totalAmount"]), currency="USD")
    await apply_facts(stack[1], admin_db, [fact("payment.captured", paid, order["id"])])


async def _fulfil(stack: tuple[str, str], admin_db: asyncpg.Connection, order_id: int) -> None:
    shipped = FulfillmentCreatedFact(order_id=order_id, fulfillment_id=1, tracking_number="1Z999AA10123456784")
    await apply_facts(stack[1], admin_db, [fact("fulfillment.created", shipped, order_id)])


async def test_an_order_asked_to_be_forgotten_on_create_is_anonymized_by_its_fulfilment_not_before(
    api: httpx.AsyncClient, anonymizer: httpx.AsyncClient, stack: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    order = await create(api, _body(requestToBeForgotten=True))
    assert order["requestToBeForgotten"] is True
    erasure_id = await _shown_waiting(anonymizer, admin_db, order["id"])

    await _pay(stack, admin_db, order)  # paid but not shipped: not eligible yet
    paid = await _order(api, order["id"])
    assert paid["state"] == "accepted"
    assert _as_created(paid) == _as_created(order)
    await _shown_waiting(anonymizer, admin_db, order["id"])

    await _fulfil(stack, admin_db, order["id"])

    forgotten = await _anonymized_by_itself(api, anonymizer, order["id"], erasure_id)
    assert _as_created(forgotten) == ("*", "*", {"giftMessage": "*"})
    assert forgotten["state"] == "complete"


async def test_an_order_asked_to_be_forgotten_on_create_is_anonymized_by_its_cancel(
    system: dict[str, ServiceProcess],
    api: httpx.AsyncClient,
    anonymizer: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
) -> None:
    order = await create(api, _body(requestToBeForgotten=True))
    erasure_id = await _shown_waiting(anonymizer, admin_db, order["id"])
    assert _as_created(await _order(api, order["id"])) == _as_created(order)

    cancelled = await api.post(f"{system['order_api'].url}/com/orders/{order['id']}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text

    forgotten = await _anonymized_by_itself(api, anonymizer, order["id"], erasure_id)
    assert _as_created(forgotten) == ("*", "*", {"giftMessage": "*"})
    assert forgotten["state"] == "cancelled"


async def test_an_order_asked_to_be_forgotten_on_update_waits_then_its_fulfilment_anonymizes_it(
    api: httpx.AsyncClient, anonymizer: httpx.AsyncClient, stack: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    order = await create(api, _body())
    await _pay(stack, admin_db, order)

    updated = await api.post(f"/orders/{order['id']}", json={"requestToBeForgotten": True})

    assert updated.status_code == 200, updated.text
    assert updated.json()["requestToBeForgotten"] is True
    assert _as_created(updated.json()) == _as_created(order)
    erasure_id = await _shown_waiting(anonymizer, admin_db, order["id"])

    await _fulfil(stack, admin_db, order["id"])

    forgotten = await _anonymized_by_itself(api, anonymizer, order["id"], erasure_id)
    assert _as_created(forgotten) == ("*", "*", {"giftMessage": "*"})


async def test_asking_on_update_for_an_order_already_done_anonymizes_it_at_once(
    system: dict[str, ServiceProcess],
    api: httpx.AsyncClient,
    anonymizer: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
) -> None:
    order = await create(api, _body())
    cancelled = await api.post(f"{system['order_api'].url}/com/orders/{order['id']}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text

    updated = await api.post(f"/orders/{order['id']}", json={"requestToBeForgotten": True})

    assert updated.status_code == 200, updated.text
    assert _as_created(updated.json()) == ("*", "*", {"giftMessage": "*"})
    erasure = await eventually(
        lambda: admin_db.fetchrow(
            "SELECT erasure_id, state FROM anonymizer.order_erasures WHERE order_id = $1", order["id"]
        ),
        lambda row: row is not None and row["state"] == "complete",
        timeout=60,
    )
    assert erasure is not None


async def test_a_request_to_be_forgotten_cannot_be_withdrawn_and_is_honoured(
    api: httpx.AsyncClient, anonymizer: httpx.AsyncClient, stack: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    order = await create(api, _body(requestToBeForgotten=True))
    erasure_id = await _shown_waiting(anonymizer, admin_db, order["id"])

    withdrawn = await api.post(f"/orders/{order['id']}", json={"requestToBeForgotten": False})

    assert withdrawn.status_code == 409, withdrawn.text
    problem = withdrawn.json()
    assert problem["code"] == "forget_request_final"
    assert [error["field"] for error in problem["errors"]] == ["requestToBeForgotten"]
    assert (await _order(api, order["id"]))["requestToBeForgotten"] is True
    await _pay(stack, admin_db, order)
    await _fulfil(stack, admin_db, order["id"])
    forgotten = await _anonymized_by_itself(api, anonymizer, order["id"], erasure_id)
    assert _as_created(forgotten) == ("*", "*", {"giftMessage": "*"})


async def test_an_order_to_be_forgotten_is_deleted_only_once_anonymized(
    system: dict[str, ServiceProcess],
    api: httpx.AsyncClient,
    anonymizer: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
) -> None:
    order = await create(api, _body(requestToBeForgotten=True))
    erasure_id = await _shown_waiting(anonymizer, admin_db, order["id"])
    haravan = f"{system['order_api'].url}/com/orders/{order['id']}"

    refused = await api.delete(f"{haravan}.json")

    problem = assert_problem(refused, 409, "order_not_deletable", "request_to_be_forgotten")
    assert "cancel it first" in problem["detail"]
    assert (await _order(api, order["id"]))["email"] == order["email"]
    cancelled = await api.post(f"{haravan}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text
    await _anonymized_by_itself(api, anonymizer, order["id"], erasure_id)
    deleted = await api.delete(f"{haravan}.json")
    assert deleted.status_code == 200, deleted.text
