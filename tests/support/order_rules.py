"""Orders built through the domain's rules, for the tests of those rules: the Haravan document's create
examples, a catalog and customers, and helpers to build an order, put it in a state, pay and ship it,
and catch a refusal."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from deploy.demo_catalog import DEMO_VARIANTS
from services.order_api.domain.building import NewOrderIds, build_order, object_ids_needed
from services.order_api.domain.errors import OrderRuleError
from services.order_api.domain.fulfillments import fulfil
from services.order_api.domain.payments import PaymentKind, apply_payment
from shared.order_facts import FulfillmentCreatedFact, FulfillmentLineFact, OrderDraft, PaymentFact, VariantFact
from shared.orders import CustomerSnapshot, OrderSnapshot

NOW = datetime(2026, 3, 28, 17, 30, 36, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)

# The variant the Haravan document's create examples name, as the demo catalog holds it.
IPOD = next(variant for variant in DEMO_VARIANTS if variant.id == 447654529)
TEAPOT_JPY = VariantFact(id=7, product_id=70, title="Tetsubin", sku="TETSU", price=Decimal(4500), currency="JPY")
CATALOG = {variant.id: variant for variant in (IPOD, TEAPOT_JPY)}

REGISTERED = CustomerSnapshot(
    id=207119551,
    email="bob.norman@hostmail.com",
    first_name="Bob",
    last_name="Norman",
    state="enabled",
    created_at=NOW,
    updated_at=NOW,
)
CHECKOUT_RECORD = CustomerSnapshot(id=9000000001, email="foo@example.com", created_at=NOW, updated_at=NOW)

# The "order" objects of the Haravan document's five create examples, as sent.
VARIANT_ONLY: dict[str, Any] = {"line_items": [{"variant_id": 447654529, "quantity": 1}]}
FULFILLED_WITH_RECEIPTS: dict[str, Any] = {
    "email": "foo@example.com",
    "fulfillment_status": "fulfilled",
    "send_receipt": True,
    "send_fulfillment_receipt": True,
    "line_items": [{"variant_id": 447654529, "quantity": 1}],
}
COMPREHENSIVE: dict[str, Any] = {
    "line_items": [{"title": "Big Brown Bear Boots", "price": 74.99, "grams": "1300", "quantity": 3}],
    "tax_lines": [{"price": 13.5, "rate": 0.06, "title": "State tax"}],
    "transactions": [{"kind": "sale", "status": "success", "amount": 238.47}],
    "total_tax": 13.5,
    "currency": "EUR",
}
PENDING_EXISTING_CUSTOMER: dict[str, Any] = {
    "line_items": [{"variant_id": 447654529, "quantity": 1}],
    "customer": {"id": 207119551},
    "financial_status": "pending",
}
PARTIALLY_PAID_NEW_CUSTOMER: dict[str, Any] = {
    "line_items": [{"variant_id": 447654529, "quantity": 1}],
    "customer": {"first_name": "Paul", "last_name": "Norman", "email": "paul.norman@example.com"},
    "billing_address": {"first_name": "John", "last_name": "Smith", "address1": "123 Fake Street", "city": "Fakecity"},
    "shipping_address": {"first_name": "Jane", "last_name": "Smith", "address1": "123 Fake Street"},
    "email": "jane@example.com",
    "transactions": [{"kind": "authorization", "status": "success", "amount": 50.0}],
    "financial_status": "partially_paid",
}


def new_ids(count: int, order_id: int = 1073459962, order_number: int = 1001) -> NewOrderIds:
    return NewOrderIds(order_id, order_number, "f16e29f68fe7b57a0a2ff005202178b0", iter(range(500, 500 + count)))


def build(
    body: dict[str, Any],
    customer: CustomerSnapshot | None = None,
    variants: dict[int, VariantFact] = CATALOG,
) -> OrderSnapshot:
    draft = OrderDraft.model_validate(body)
    return build_order(draft, new_ids(object_ids_needed(draft)), NOW, variants, customer)


def rule_error(body: dict[str, Any], variants: dict[int, VariantFact] = CATALOG) -> OrderRuleError:
    with pytest.raises(OrderRuleError) as caught:
        build(body, variants=variants)
    return caught.value


def custom(price: str, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {"title": "Widget", "price": price, "quantity": quantity, **fields}


def order(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"line_items": list(items) or [custom("10.00")], **fields}


def in_state(**fields: Any) -> OrderSnapshot:
    base = build(order(custom("100.00")))
    if "status" in fields:
        stamp = {"cancelled": "cancelled_at", "closed": "closed_at"}.get(fields["status"])
        fields = {**fields, **({stamp: NOW} if stamp else {})}
    return base.model_copy(update=fields)


def pay(
    target: OrderSnapshot, kind: PaymentKind, amount: str, currency: str = "USD", tx_id: int = 900
) -> tuple[OrderSnapshot, str]:
    fact = PaymentFact(order_id=target.id, amount=Decimal(amount), currency=currency, gateway="stripe")
    return apply_payment(target, kind, fact, tx_id, LATER)


def fulfil_items(target: OrderSnapshot, fulfillment_id: int, *lines: tuple[int, int]) -> OrderSnapshot:
    fact = FulfillmentCreatedFact(
        order_id=target.id,
        fulfillment_id=fulfillment_id,
        line_items=[FulfillmentLineFact(line_item_id=item, quantity=quantity) for item, quantity in lines],
        tracking_number=f"TRACK{fulfillment_id}",
    )
    return fulfil(target, fact, LATER)
