"""Elastic Path's order shape, translated from the one order snapshot (its error shapes: errors.py)."""

from decimal import Decimal
from typing import Any

from services.order_api.api.elastic_path.status import elastic_path_status
from services.order_api.domain.payments import paid_amount, refunded_amount
from shared.erasure import MASK
from shared.money import to_minor
from shared.orders import Address, OrderSnapshot

_ADDRESS_FIELDS = ("company_name", "country", "county", "first_name", "last_name", "line_1", "line_2", "postcode")


def _price(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": to_minor(amount, currency), "currency": currency, "formatted": f"{amount} {currency}"}


def _address(address: Address | None, anonymized: bool) -> dict[str, str]:
    if anonymized:  # every personal field `*`, present or not, as the document promises
        return dict.fromkeys((*_ADDRESS_FIELDS, "region"), MASK)
    given = address or Address()
    values = {
        "company_name": given.company,
        "country": given.country_code or given.country,
        "county": None,
        "first_name": given.first_name,
        "last_name": given.last_name,
        "line_1": given.address1,
        "line_2": given.address2,
        "postcode": given.zip,
        "region": given.province,
    }
    return {name: value or "" for name, value in values.items()}


def elastic_path_order(order: OrderSnapshot) -> dict[str, Any]:
    """The order in Elastic Path's shape."""
    status = elastic_path_status(order)
    currency = order.currency
    paid = paid_amount(order, "capture", "sale") - refunded_amount(order)
    authorized = max(paid_amount(order, "authorization") - paid_amount(order, "capture"), Decimal(0))
    name = (
        " ".join(part for part in (order.customer.first_name, order.customer.last_name) if part)
        if order.customer
        else ""
    )
    return {
        "type": "order",
        "id": str(order.id),
        "status": status.status,
        "payment": status.payment,
        "shipping": status.shipping,
        "anonymized": order.anonymized,
        "contact": {"email": MASK, "name": MASK} if order.anonymized else {"email": order.email or "", "name": name},
        "billing_address": _address(order.billing_address, order.anonymized),
        "shipping_address": _address(order.shipping_address, order.anonymized),
        "meta": {
            "display_price": {
                "with_tax": _price(order.total_price, currency),
                "without_tax": _price(order.total_price - order.total_tax, currency),
                "tax": _price(order.total_tax, currency),
                "discount": _price(-order.total_discounts, currency),
                "without_discount": _price(order.total_price + order.total_discounts, currency),
                "paid": _price(paid, currency),
                "authorized": _price(authorized, currency),
            },
            "timestamps": {"created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat()},
        },
    }
