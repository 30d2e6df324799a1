"""A real Shopify-style client drives the Haravan dialect: the `haravan` package from PyPI (pyactiveresource
underneath), pointed at the running order API with `set_site(base + "/com")` and a Bearer header, creates,
finds, lists, counts, updates (it PUTs the whole order back), closes, reopens, cancels, refunds and
destroys orders, and reads our errors in Shopify's shape. The client is synchronous: each session runs
in a thread, as a caller of this API would run it."""

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import haravan
from pyactiveresource.connection import ClientError, ResourceNotFound

from shared.auth import LOCAL_API_KEY
from tests.support.processes import ServiceProcess
from tests.support.refunds import TOTAL, paid_order_body

T = TypeVar("T")

# An order's refunds, as Shopify's own Python client has them (the haravan package has no such resource).
Refund: Any = type(
    "Refund", (haravan.HaravanResource,), {"_prefix_source": "/com/orders/$order_id/", "__module__": __name__}
)


def calculate(order_id: int, **refund: Any) -> Any:
    """Shopify's `Refund.calculate`: the quote, as a Refund not saved."""
    response = Refund.post("calculate", order_id=order_id, body=json.dumps({"refund": refund}).encode())
    return Refund(Refund.format.decode(response.body), prefix_options={"order_id": order_id})


async def session(system: dict[str, ServiceProcess], steps: Callable[[], T]) -> T:
    """Run `steps` with the client pointed at the order API, in a thread (the client blocks)."""

    def run() -> T:
        haravan.HaravanResource.set_site(system["order_api"].url + "/com")
        haravan.HaravanResource.headers["Authorization"] = f"Bearer {LOCAL_API_KEY}"
        return steps()

    return await asyncio.to_thread(run)


async def test_the_client_creates_finds_lists_counts_updates_closes_opens_and_destroys(
    system: dict[str, ServiceProcess],
) -> None:
    def steps() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        created = haravan.Order.create(paid_order_body(paid=None, financial_status="pending"))
        seen["created"] = (created.id, created.total_price, created.financial_status)
        seen["errors"] = created.errors.full_messages()
        found = haravan.Order.find(created.id)
        seen["found"] = (found.id, found.email, [item.title for item in found.line_items])
        seen["listed"] = created.id in [order.id for order in haravan.Order.find(limit=250, since_id=created.id - 1)]
        seen["count"] = haravan.Order.count(ids=str(created.id))
        found.note = "Leave it with the neighbours"
        found.tags = "gift, fragile"
        seen["updated"] = found.save()  # the whole order goes back, every key it was read with
        again = haravan.Order.find(created.id)
        seen["after update"] = (again.note, again.tags, again.customer.email == created.email)
        again.currency = "EUR"  # fixed when the order was made
        seen["refused update"] = again.save()
        seen["update errors"] = (again.errors.on("currency"), again.errors.full_messages())
        again.currency = "USD"
        seen["unchanged update"] = again.save()  # every key as the order has it: nothing changes
        again.close()
        seen["closed"] = (again.status, again.closed_at is not None)
        again.open()
        seen["reopened"] = again.status
        again.destroy()  # an unpaid order may go
        try:
            haravan.Order.find(created.id)
        except ResourceNotFound as gone:
            seen["destroyed"] = json.loads(gone.response.body)["errors"]
        return seen

    seen = await session(system, steps)

    order_id = seen["created"][0]
    assert seen["created"][1:] == (TOTAL, "pending")
    assert seen["errors"] == []
    assert seen["found"] == (order_id, seen["found"][1], ["Big Brown Bear Boots", "Hat"])
    assert (seen["listed"], seen["count"]) == (True, 1)
    assert (seen["updated"], seen["after update"]) == (True, ("Leave it with the neighbours", "gift, fragile", True))
    assert seen["refused update"] is False  # a 422 the client parsed into its errors
    assert seen["update errors"][0] == "cannot be changed"
    assert seen["unchanged update"] is True
    assert (seen["closed"], seen["reopened"]) == (("closed", True), "open")
    assert seen["destroyed"] == f"There is no order {order_id}."


async def test_the_client_cancels_and_refunds(system: dict[str, ServiceProcess]) -> None:
    def steps() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        refunded = haravan.Order.create(paid_order_body())
        boots, hat = (item.id for item in refunded.line_items)
        quote = calculate(
            refunded.id, refund_line_items=[{"line_item_id": hat, "quantity": 1}], shipping={"full_refund": True}
        )
        seen["quote"] = (quote.amount, quote.shipping.amount, quote.refund_line_items[0].subtotal)
        made = Refund.create(
            {
                "order_id": refunded.id,
                "refund_line_items": [{"line_item_id": hat, "quantity": 1, "restock_type": "cancel"}],
                "shipping": {"full_refund": True},
                "note": "the hat was out of stock",
            }
        )
        seen["made"] = (made.id is not None, made.status, made.amount, made.errors.full_messages())
        seen["listed"] = [refund.id for refund in Refund.find(order_id=refunded.id)]
        seen["found"] = Refund.find(made.id, order_id=refunded.id).note
        too_much = Refund({"order_id": refunded.id, "refund_line_items": [{"line_item_id": boots, "quantity": 9}]})
        seen["too much"] = (too_much.save(), too_much.errors.full_messages())

        cancelled = haravan.Order.create(paid_order_body())
        cancelled.cancel(reason="customer", amount="21.20", restock=True, email=True)
        seen["cancelled"] = (cancelled.status, cancelled.cancel_reason, [one.amount for one in cancelled.refunds])
        try:
            cancelled.cancel(reason="other")
        except ClientError as refused:
            seen["again"] = (refused.response.code, json.loads(refused.response.body)["errors"])
        return seen

    seen = await session(system, steps)

    # The hat: 10.00 less its share of the 10.00 discount (0.43 of 234.97), untaxed; and the shipping.
    assert seen["quote"] == ("16.57", "7.00", "10.00")
    assert seen["made"] == (True, "pending", "16.57", [])
    assert len(seen["listed"]) == 1
    assert seen["found"] == "the hat was out of stock"
    assert seen["too much"][0] is False
    assert "3 unit(s) left to refund" in seen["too much"][1][0]
    assert seen["cancelled"] == ("cancelled", "customer", ["21.20"])
    assert seen["again"] == (409, {"status": ["the order is cancelled already"]})
