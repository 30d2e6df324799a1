"""The snapshot in the Haravan document's shape (responses.py's models), as JSON data.

Built from the snapshot's own JSON (money as strings, times in ISO 8601): validating a second model
per order would double what a list page costs. Each object takes, from the snapshot, exactly the keys
its Haravan model declares, so a field the event contract gains shows in this dialect only once its
model declares it; the unit test holds the translation and the models together.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, from_json

from services.order_api.api.haravan.responses import (
    ClientDetails,
    CustomerFields,
    DiscountCode,
    FulfillmentFields,
    HaravanAddress,
    HaravanCustomer,
    HaravanFulfillment,
    HaravanOrder,
    HaravanRefund,
    HaravanShippingLine,
    HaravanTaxLine,
    LineItemFields,
    Metafield,
    NameValue,
    OrderFields,
    RefundFields,
    RefundLineFields,
    Transaction,
)
from services.order_api.domain.money import money
from shared.orders import OrderSnapshot

Json = dict[str, Any]


def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def _constants(model: type[BaseModel], fields: type[BaseModel]) -> Json:
    """The keys `model` adds to its `fields` with a fixed value: every answer carries them as they are."""
    return {
        name: info.default
        for name, info in model.model_fields.items()
        if name not in fields.model_fields and info.default is not PydanticUndefined
    }


_ORDER: Final = _keys(OrderFields)
_LINE_ITEM: Final = _keys(LineItemFields)
_CUSTOMER: Final = _keys(CustomerFields)
_FULFILLMENT: Final = _keys(FulfillmentFields)
_REFUND: Final = _keys(RefundFields)
_ADDRESS: Final = _keys(HaravanAddress)
_SHIPPING_LINE: Final = _keys(HaravanShippingLine)
_TAX_LINE: Final = _keys(HaravanTaxLine)
_PLAIN: Final[dict[type[BaseModel], tuple[str, ...]]] = {
    model: _keys(model) for model in (NameValue, DiscountCode, ClientDetails, Transaction, RefundLineFields, Metafield)
}
_ORDER_CONSTANTS: Final = _constants(HaravanOrder, OrderFields)
_CUSTOMER_CONSTANTS: Final = _constants(HaravanCustomer, CustomerFields)
_FULFILLMENT_CONSTANTS: Final = _constants(HaravanFulfillment, FulfillmentFields)
_REFUND_CONSTANTS: Final = _constants(HaravanRefund, RefundFields)


def _take(data: Mapping[str, Any], keys: tuple[str, ...]) -> Json:
    return {key: data[key] for key in keys}


def _all(model: type[BaseModel], objects: list[Json]) -> list[Json]:
    return [_take(one, _PLAIN[model]) for one in objects]


def _tax_lines(tax_lines: list[Json]) -> list[Json]:
    return [{**_take(tax, _TAX_LINE), "rate": float(tax["rate"])} for tax in tax_lines]


def _line_item(item: Json) -> Json:
    return {
        **_take(item, _LINE_ITEM),
        "properties": _all(NameValue, item["properties"]),
        "tax_lines": _tax_lines(item["tax_lines"]),
        "variant_inventory_management": "haravan" if item["variant_id"] is not None else None,
        "product_exists": item["product_id"] is not None,
    }


def _address(address: Json | None) -> Json | None:
    if address is None:
        return None
    name = address["name"] or " ".join(part for part in (address["first_name"], address["last_name"]) if part)
    return {
        **_take(address, _ADDRESS),
        "name": name or None,
        **{key: float(address[key]) for key in ("latitude", "longitude") if address[key] is not None},
    }


def _customer(customer: Json | None) -> Json | None:
    return None if customer is None else {**_take(customer, _CUSTOMER), **_CUSTOMER_CONSTANTS}


def _fulfillment(fulfillment: Json, items: Mapping[int, Json], order_id: int) -> Json:
    return {
        **_take(fulfillment, _FULFILLMENT),
        # The fulfilled line items, each with the quantity this fulfillment shipped.
        "line_items": [{**items[line["id"]], "quantity": line["quantity"]} for line in fulfillment["line_items"]],
        **_FULFILLMENT_CONSTANTS,
        "order_id": order_id,
        "tracking_numbers": [fulfillment["tracking_number"]] if fulfillment["tracking_number"] else [],
        "tracking_urls": [fulfillment["tracking_url"]] if fulfillment["tracking_url"] else [],
    }


def _refund(refund: Json, items: Mapping[int, Json], order: OrderSnapshot) -> Json:
    shipping = Decimal(refund["shipping"])
    return {
        **_take(refund, _REFUND),
        **_REFUND_CONSTANTS,
        "order_id": order.id,
        "refund_line_items": [
            {**_take(line, _PLAIN[RefundLineFields]), "line_item": items[line["line_item_id"]]}
            for line in refund["refund_line_items"]
        ],
        "transactions": _all(Transaction, refund["transactions"]),
        "order_adjustments": [
            {
                "order_id": order.id,
                "refund_id": refund["id"],
                "kind": "shipping_refund",
                "reason": "Shipping refund",
                "amount": str(money(-shipping, order.currency)),
                "tax_amount": str(money(Decimal(0), order.currency)),
            }
        ]
        if shipping
        else [],
    }


def haravan_line_items(order: OrderSnapshot) -> dict[int, Json]:
    """The order's line items in the Haravan shape, by id, as JSON data."""
    data = order.model_dump(mode="json", include={"line_items"})
    return {item["id"]: _line_item(item) for item in data["line_items"]}


def haravan_refunds(order: OrderSnapshot) -> list[Json]:
    """The order's refunds in the Haravan (Shopify) shape, as JSON data."""
    items = haravan_line_items(order)
    return [_refund(refund, items, order) for refund in order.model_dump(mode="json", include={"refunds"})["refunds"]]


def haravan_order(order: OrderSnapshot, document: str | None = None) -> Json:
    """The order in the Haravan document's shape (the HaravanOrder model), as JSON data; from
    `document`, the order's own JSON (`StoredOrder.document`), when the store has just made it."""
    data = order.model_dump(mode="json") if document is None else from_json(document)
    items = [_line_item(item) for item in data["line_items"]]
    by_id = {item["id"]: item for item in items}
    client_details = data["client_details"]
    return {
        **_take(data, _ORDER),
        "email": order.email or "",
        "line_items": items,
        "shipping_lines": [
            {**_take(line, _SHIPPING_LINE), "tax_lines": _tax_lines(line["tax_lines"])}
            for line in data["shipping_lines"]
        ],
        "tax_lines": _tax_lines(data["tax_lines"]),
        "discount_codes": _all(DiscountCode, data["discount_codes"]),
        "note_attributes": _all(NameValue, data["note_attributes"]),
        "billing_address": _address(data["billing_address"]),
        "shipping_address": _address(data["shipping_address"]),
        "customer": _customer(data["customer"]),
        "client_details": None if client_details is None else _take(client_details, _PLAIN[ClientDetails]),
        "transactions": _all(Transaction, data["transactions"]),
        "fulfillments": [_fulfillment(fulfillment, by_id, order.id) for fulfillment in data["fulfillments"]],
        "refunds": [_refund(refund, by_id, order) for refund in data["refunds"]],
        "metafields": _all(Metafield, data["metafields"]),
        **_ORDER_CONSTANTS,
        "gateway": next((tx.gateway for tx in order.transactions if tx.gateway), ""),
        "total_price_usd": data["total_price"] if order.currency == "USD" else None,
        "source": order.source_name,
    }
