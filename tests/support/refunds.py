"""Cancels and refunds as the end-to-end tests make them: a paid order with a discount, tax and shipping,
the refund it gets, the payment service's answer (published to orders.ingest as the payment service
would), and the Digital River and Elastic Path views of the order."""

import uuid
from decimal import Decimal
from typing import Any, Final

import httpx

from shared.events import Event
from shared.order_facts import PaymentFact
from tests.support.order_api_facts import AUTH, create_order, fact
from tests.support.storefront import unique_email

# 3 boots at 74.99 and a hat at 10.00, 10.00 off, 13.50 tax, 7.00 shipping: 245.47, paid with one sale.
TOTAL: Final = "245.47"


def paid_order_body(*, paid: str | None = TOTAL, **fields: Any) -> dict[str, Any]:
    """A Haravan create body: a paid order with a discount, tax and shipping, and an email of its own."""
    return {
        "email": unique_email("refunds"),
        "currency": "USD",
        "line_items": [
            {"title": "Big Brown Bear Boots", "price": "74.99", "quantity": 3},
            {"title": "Hat", "price": "10.00", "quantity": 1, "taxable": False},
        ],
        "tax_lines": [{"title": "State tax", "price": "13.50", "rate": 0.06}],
        "discount_codes": [{"code": "TENOFF", "amount": "10.00"}],
        "shipping_lines": [{"title": "Standard", "price": "7.00"}],
        **({"transactions": [{"kind": "sale", "status": "success", "amount": paid}]} if paid else {}),
        **fields,
    }


async def paid_order(http: httpx.AsyncClient, api: str, **fields: Any) -> dict[str, Any]:
    return await create_order(http, api, paid_order_body(**fields))


async def cancel(http: httpx.AsyncClient, api: str, order_id: int, **params: Any) -> httpx.Response:
    return await http.post(f"{api}/com/orders/{order_id}/cancel.json", json=params, headers=AUTH)


async def refund(
    http: httpx.AsyncClient, api: str, order_id: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        f"{api}/com/orders/{order_id}/refunds.json", json={"refund": body}, headers={**AUTH, **(headers or {})}
    )


def everything(order: dict[str, Any]) -> dict[str, Any]:
    """A refunds.json body refunding every unit of the order and all its shipping."""
    return {
        "refund_line_items": [
            {"line_item_id": item["id"], "quantity": item["quantity"]} for item in order["line_items"]
        ],
        "shipping": {"full_refund": True},
    }


def paid_back(order_id: int, refund: dict[str, Any], *, failed: bool = False) -> Event:
    """The payment service's answer to a refund command, for a new ledger entry."""
    answer = PaymentFact(
        order_id=order_id,
        amount=Decimal(refund["amount"]),
        currency="USD",
        gateway="sandbox",
        refund_id=refund["id"],
        ledger_entry_id=uuid.uuid4(),
        error="declined by the issuer" if failed else None,
    )
    return fact("payment.refund_failed" if failed else "payment.refunded", answer, order_id)


async def views(http: httpx.AsyncClient, api: str, order_id: int) -> dict[str, Any]:
    """The order in the Digital River dialect (amounts and state)."""
    response = await http.get(f"{api}/orders/{order_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown
