"""Every write to an order emits its lifecycle event once, numbered in sequence per order: the create over
HTTP, then payment and fulfilment facts from other services on orders.ingest."""

import random
from decimal import Decimal

import asyncpg
import httpx

from shared.order_facts import (
    FulfillmentCancelledFact,
    FulfillmentCreatedFact,
    FulfillmentLineFact,
    PaymentFact,
    VariantFact,
)
from tests.support.order_api_facts import (
    AUTH,
    TEAPOTS,
    apply_facts,
    create_order,
    fact,
    get_order,
    order_events,
    unpaid_order,
)
from tests.support.processes import ServiceProcess


def _fulfillment_id() -> int:
    return random.randint(10**12, 10**13)


async def test_an_order_paid_shipped_in_two_parts_then_changed_over_http_emits_each_event_once_in_one_sequence(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
    demo_catalog: dict[int, VariantFact],
) -> None:
    api = system["order_api"].url
    order = await create_order(http, api, unpaid_order({"variant_id": 447654529, "quantity": 2}))
    order_id, [item] = order["id"], order["line_items"]
    assert (item["sku"], order["total_price"]) == ("IPOD2009BLACK", "398.00")  # from the demo catalog

    await apply_facts(
        stack[1],
        admin_db,
        [
            fact(
                "payment.captured", PaymentFact(order_id=order_id, amount=Decimal("398.00"), currency="USD"), order_id
            ),
            fact(
                "fulfillment.created",
                FulfillmentCreatedFact(
                    order_id=order_id,
                    fulfillment_id=_fulfillment_id(),
                    line_items=[FulfillmentLineFact(line_item_id=item["id"], quantity=1)],
                    tracking_number="1Z2345",
                ),
                order_id,
            ),
            # No line items named: everything still unfulfilled ships.
            fact(
                "fulfillment.created",
                FulfillmentCreatedFact(order_id=order_id, fulfillment_id=_fulfillment_id()),
                order_id,
            ),
        ],
    )

    shown = await get_order(http, api, order_id)
    assert (shown["financial_status"], shown["fulfillment_status"]) == ("paid", "fulfilled")
    assert [line["fulfillable_quantity"] for line in shown["line_items"]] == [0]
    assert [(t["kind"], t["amount"]) for t in shown["transactions"]] == [("capture", "398.00")]

    # Then the HTTP door: the same order's sequence carries on.
    path = f"{api}/com/orders/{order_id}"
    for method, url, body in [
        ("PUT", f"{path}.json", {"order": {"id": order_id, "note": "gift wrap"}}),
        ("POST", f"{path}/close.json", None),
        ("POST", f"{path}/open.json", None),
        ("POST", f"{path}/close.json", None),
        ("DELETE", f"{path}.json", None),
    ]:
        response = await http.request(method, url, json=body, headers=AUTH)
        assert response.status_code == 200, response.text

    events = await order_events(stack[1], order, expect=9)
    assert [(kind, sequence, data.sequence) for kind, sequence, data in events] == [
        ("order.created", 1, 1),
        ("order.paid", 2, 2),
        ("order.partially_fulfilled", 3, 3),
        ("order.fulfilled", 4, 4),
        ("order.updated", 5, 5),
        ("order.closed", 6, 6),
        ("order.reopened", 7, 7),
        ("order.closed", 8, 8),
        ("order.deleted", 9, 9),
    ]
    assert [(o.financial_status, o.fulfillment_status, o.status, o.note) for o in (e[2].order for e in events)] == [
        ("pending", None, "open", None),
        ("paid", None, "open", None),
        ("paid", "partial", "open", None),
        ("paid", "fulfilled", "open", None),
        ("paid", "fulfilled", "open", "gift wrap"),
        ("paid", "fulfilled", "closed", "gift wrap"),
        ("paid", "fulfilled", "open", "gift wrap"),
        ("paid", "fulfilled", "closed", "gift wrap"),
        ("paid", "fulfilled", "closed", "gift wrap"),  # order.deleted carries the last state
    ]


async def test_authorize_void_and_a_cancelled_fulfilment_each_emit_order_updated_in_sequence(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    order = await create_order(http, api, unpaid_order(TEAPOTS))
    order_id, [item] = order["id"], order["line_items"]
    shipment = _fulfillment_id()
    payment = PaymentFact(order_id=order_id, amount=Decimal("50.00"), currency="USD", authorization="auth-1")

    await apply_facts(
        stack[1],
        admin_db,
        [
            fact("payment.authorized", payment, order_id),
            fact("payment.voided", payment, order_id),
            fact(
                "fulfillment.created",
                FulfillmentCreatedFact(
                    order_id=order_id,
                    fulfillment_id=shipment,
                    line_items=[FulfillmentLineFact(line_item_id=item["id"], quantity=1)],
                ),
                order_id,
            ),
            fact(
                "fulfillment.cancelled", FulfillmentCancelledFact(order_id=order_id, fulfillment_id=shipment), order_id
            ),
        ],
    )

    events = await order_events(stack[1], order, expect=5)
    assert [
        (kind, sequence, data.order.financial_status, data.order.fulfillment_status) for kind, sequence, data in events
    ] == [
        ("order.created", 1, "pending", None),
        ("order.updated", 2, "authorized", None),
        ("order.updated", 3, "voided", None),
        ("order.partially_fulfilled", 4, "voided", "partial"),
        ("order.updated", 5, "voided", None),
    ]
    shown = await get_order(http, api, order_id)
    assert [line["fulfillable_quantity"] for line in shown["line_items"]] == [2]  # the cancelled shipment is back
    assert [f["status"] for f in shown["fulfillments"]] == ["cancelled"]
