"""Building an order from a draft (services/order_api/domain/building.py): the Haravan document's create
examples, catalog items, currencies and the customer. Pure functions, no I/O."""

from typing import Any

import pytest

from services.order_api.domain.building import build_order, object_ids_needed
from services.order_api.domain.customers import as_seen_without_read
from shared.order_facts import OrderDraft
from tests.support.order_rules import (
    CATALOG,
    CHECKOUT_RECORD,
    COMPREHENSIVE,
    FULFILLED_WITH_RECEIPTS,
    IPOD,
    NOW,
    PARTIALLY_PAID_NEW_CUSTOMER,
    PENDING_EXISTING_CUSTOMER,
    REGISTERED,
    TEAPOT_JPY,
    VARIANT_ONLY,
    build,
    custom,
    new_ids,
    order,
    rule_error,
)

# ---- the document's create examples ---------------------------------------------------------------


def test_variant_only_example_takes_every_item_field_and_the_currency_from_the_catalog() -> None:
    created = build(VARIANT_ONLY)

    (item,) = created.line_items
    assert (item.id, item.variant_id, item.product_id, item.sku) == (500, 447654529, 921728736, "IPOD2009BLACK")
    assert (item.title, item.variant_title, item.name) == ("IPod Touch 8GB", "Black", "IPod Touch 8GB - Black")
    assert (str(item.price), item.quantity, item.grams, item.fulfillable_quantity) == ("199.00", 1, 200, 1)
    assert created.currency == "USD"
    assert (created.id, created.number, created.order_number, created.name) == (1073459962, 1, 1001, "#1001")
    totals = (created.total_line_items_price, created.subtotal_price, created.total_tax, created.total_price)
    assert [str(total) for total in totals] == ["199.00", "199.00", "0.00", "199.00"]
    assert created.total_weight == 200
    # No transactions and no status given: nothing is paid yet.
    assert (created.status, created.financial_status, created.fulfillment_status) == ("open", "pending", None)
    assert (created.customer, created.email, created.guest) == (None, None, True)
    assert created.created_at == created.updated_at == created.processed_at == NOW


@pytest.mark.parametrize("body", [FULFILLED_WITH_RECEIPTS, {**FULFILLED_WITH_RECEIPTS, "send_receipt": False}])
def test_fulfilled_at_create_ships_every_item_in_one_fulfillment(body: dict[str, Any]) -> None:
    created = build(body, CHECKOUT_RECORD)

    (item,) = created.line_items
    (fulfillment,) = created.fulfillments
    assert created.fulfillment_status == item.fulfillment_status == "fulfilled"
    assert item.fulfillable_quantity == 0
    assert (fulfillment.id, fulfillment.status, fulfillment.created_at) == (501, "success", NOW)
    assert [(line.id, line.quantity) for line in fulfillment.line_items] == [(item.id, 1)]
    assert created.email == "foo@example.com"
    # A customer record made at checkout is no account: the order stays a guest order.
    assert created.customer == CHECKOUT_RECORD
    assert created.guest is True


def test_comprehensive_example_custom_item_tax_and_sale() -> None:
    created = build(COMPREHENSIVE)

    (item,) = created.line_items
    assert (item.title, item.name, item.variant_id, item.product_id, item.sku) == (
        "Big Brown Bear Boots",
        "Big Brown Bear Boots",
        None,
        None,
        None,
    )
    assert (str(item.price), item.quantity, item.grams, item.taxable, item.requires_shipping) == (
        "74.99",
        3,
        1300,
        True,
        True,
    )
    assert created.currency == "EUR"
    assert str(created.total_line_items_price) == str(created.subtotal_price) == "224.97"
    assert (str(created.total_tax), str(created.total_price)) == ("13.50", "238.47")
    assert created.total_weight == 3900
    (sale,) = created.transactions
    assert (sale.id, sale.kind, str(sale.amount), sale.currency, sale.created_at) == (501, "sale", "238.47", "EUR", NOW)
    assert created.financial_status == "paid"


def test_existing_registered_customer_makes_a_non_guest_order_with_their_email() -> None:
    created = build(PENDING_EXISTING_CUSTOMER, REGISTERED)

    assert created.financial_status == "pending"
    assert created.customer == REGISTERED
    assert created.email == "bob.norman@hostmail.com"
    assert created.guest is False


def test_an_order_found_by_its_customers_email_keeps_that_email_as_sent() -> None:
    # The checkout record found case-insensitively spells the address its own way; the order keeps
    # the spelling this order was placed with, which tells nobody that the record existed.
    sent = {"line_items": [custom("1.00")], "customer": {"email": "FOO@Example.com"}}

    created = build(sent, CHECKOUT_RECORD)

    assert (created.email, created.customer) == ("FOO@Example.com", CHECKOUT_RECORD)


def test_a_caller_that_may_not_read_sees_the_order_without_its_customer_record() -> None:
    created = build(PENDING_EXISTING_CUSTOMER, REGISTERED)

    seen = as_seen_without_read(created)

    assert seen.customer is None
    assert seen.model_dump(exclude={"customer"}) == created.model_dump(exclude={"customer"})


def test_new_customer_example_keeps_the_order_email_addresses_and_the_stated_status() -> None:
    created = build(PARTIALLY_PAID_NEW_CUSTOMER, CHECKOUT_RECORD)

    assert created.email == "jane@example.com"
    assert created.financial_status == "partially_paid"
    assert created.billing_address is not None
    assert created.billing_address.first_name == "John"
    assert created.shipping_address is not None
    assert created.shipping_address.first_name == "Jane"
    (authorization,) = created.transactions
    assert (authorization.kind, str(authorization.amount)) == ("authorization", "50.00")


def test_without_a_stated_status_the_transactions_decide_it() -> None:
    body = {key: value for key, value in PARTIALLY_PAID_NEW_CUSTOMER.items() if key != "financial_status"}

    assert build(body).financial_status == "authorized"


@pytest.mark.parametrize(
    "body",
    [VARIANT_ONLY, FULFILLED_WITH_RECEIPTS, COMPREHENSIVE, PENDING_EXISTING_CUSTOMER, PARTIALLY_PAID_NEW_CUSTOMER],
)
def test_object_ids_needed_is_exactly_what_build_order_takes(body: dict[str, Any]) -> None:
    draft = OrderDraft.model_validate(body)
    needed = object_ids_needed(draft)
    ids = new_ids(needed)

    created = build_order(draft, ids, NOW, CATALOG, None)

    assert next(ids.object_ids, None) is None
    nested = [obj.id for objects in (created.line_items, created.transactions, created.fulfillments) for obj in objects]
    assert sorted(nested) == list(range(500, 500 + needed))


# ---- catalog, items, currency -------------------------------------------------------------------


def test_item_fields_given_with_a_variant_override_the_catalog() -> None:
    created = build(order({"variant_id": IPOD.id, "quantity": 2, "title": "Engraved iPod", "price": "189.00"}))

    (item,) = created.line_items
    assert (item.title, item.name, str(item.price), item.sku) == (
        "Engraved iPod",
        "Engraved iPod - Black",
        "189.00",
        "IPOD2009BLACK",
    )
    assert (str(created.total_price), created.total_weight) == ("378.00", 400)


def test_order_currency_comes_from_the_catalog_variant() -> None:
    created = build(order({"variant_id": TEAPOT_JPY.id, "quantity": 3}))

    assert (created.currency, str(created.total_price)) == ("JPY", "13500")


def test_custom_items_alone_default_to_usd() -> None:
    assert build(order(custom("1.50"))).currency == "USD"


def test_unknown_variant_is_refused_at_its_line() -> None:
    error = rule_error(order(custom("1.00"), {"variant_id": 999, "quantity": 1}))

    assert (error.field, error.code) == ("line_items[1].variant_id", "unknown_variant")
    assert "999" in error.message


def test_catalog_price_in_another_currency_is_refused_unless_the_item_names_a_price() -> None:
    error = rule_error(order({"variant_id": IPOD.id, "quantity": 1}, currency="EUR"))
    assert (error.field, error.code) == ("line_items[0].variant_id", "currency_mismatch")

    created = build(order({"variant_id": IPOD.id, "quantity": 1, "price": "185.00"}, currency="EUR"))
    assert (created.currency, str(created.total_price)) == ("EUR", "185.00")


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({"price": "1.00", "quantity": 1}, "line_items[0].title", "missing_title"),
        ({"title": "Widget", "quantity": 1}, "line_items[0].price", "missing_price"),
        (custom("-0.01"), "line_items[0].price", "negative_price"),
        (custom("1.00", 0), "line_items[0].quantity", "invalid_quantity"),
        (custom("1.00", -2), "line_items[0].quantity", "invalid_quantity"),
    ],
)
def test_incomplete_or_impossible_items_are_refused(item: dict[str, Any], field: str, code: str) -> None:
    error = rule_error(order(item))

    assert (error.field, error.code) == (field, code)


def test_an_order_needs_a_line_item() -> None:
    error = rule_error({"line_items": []})

    assert (error.field, error.code) == ("line_items", "no_line_items")


@pytest.mark.parametrize("currency", ["XXX", "BTC", "usd"])
def test_unsupported_currency_is_refused(currency: str) -> None:
    error = rule_error(order(currency=currency))

    assert (error.field, error.code) == ("currency", "unsupported_currency")
