"""Order rules (services/order_api/domain.py): building an order from a draft, money, status views,
changes after creation, payments and fulfilments. Pure functions, no I/O."""

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, get_args

import pytest

from deploy.demo_catalog import DEMO_VARIANTS
from services.order_api import domain
from services.order_api.domain import (
    DigitalRiverState,
    ElasticPathStatus,
    NewOrderIds,
    OrderChanges,
    OrderRuleError,
    OrderStateError,
    PaymentKind,
)
from shared.orders import (
    CustomerSnapshot,
    FinancialStatus,
    FulfillmentCreatedFact,
    FulfillmentLineFact,
    FulfillmentStatus,
    Metafield,
    NameValue,
    OrderDraft,
    OrderSnapshot,
    PaymentFact,
    Transaction,
    TransactionKind,
    VariantFact,
)

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


def _ids(count: int, order_id: int = 1073459962, order_number: int = 1001) -> NewOrderIds:
    return NewOrderIds(order_id, order_number, "f16e29f68fe7b57a0a2ff005202178b0", iter(range(500, 500 + count)))


def build(
    body: dict[str, Any],
    customer: CustomerSnapshot | None = None,
    variants: dict[int, VariantFact] = CATALOG,
) -> OrderSnapshot:
    draft = OrderDraft.model_validate(body)
    return domain.build_order(draft, _ids(domain.object_ids_needed(draft)), NOW, variants, customer)


def rule_error(body: dict[str, Any], variants: dict[int, VariantFact] = CATALOG) -> OrderRuleError:
    with pytest.raises(OrderRuleError) as caught:
        build(body, variants=variants)
    return caught.value


def custom(price: str, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {"title": "Widget", "price": price, "quantity": quantity, **fields}


def order(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"line_items": list(items) or [custom("10.00")], **fields}


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

    seen = domain.as_seen_without_read(created)

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


def _paid_with(*transactions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return order(custom("100.00"), transactions=list(transactions), **fields)


@pytest.mark.parametrize(
    "transactions",
    [
        [{"kind": "refund", "amount": "10.00"}],
        [{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.01"}],
        [{"kind": "authorization", "amount": "100.00"}, {"kind": "refund", "amount": "50.00"}],
        [
            {"kind": "sale", "amount": "40.00"},
            {"kind": "refund", "amount": "30.00"},
            {"kind": "refund", "amount": "20.00"},
        ],
    ],
)
def test_refunds_beyond_what_was_captured_are_refused(transactions: list[dict[str, Any]]) -> None:
    error = rule_error(_paid_with(*transactions))

    assert (error.field, error.code) == ("transactions", "refund_exceeds_captured")


@pytest.mark.parametrize(
    ("transactions", "stated", "computed"),
    [
        ([], "refunded", "pending"),
        ([], "partially_refunded", "pending"),
        ([{"kind": "sale", "amount": "100.00"}], "refunded", "paid"),
        (
            [{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "10.00"}],
            "refunded",
            "partially_refunded",
        ),
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.00"}], "paid", "refunded"),
        (
            [{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.00", "status": "pending"}],
            "refunded",
            "paid",
        ),
    ],
)
def test_a_refund_status_is_only_what_refund_transactions_make(
    transactions: list[dict[str, Any]], stated: str, computed: str
) -> None:
    error = rule_error(_paid_with(*transactions, financial_status=stated))

    assert (error.field, error.code) == ("financial_status", "financial_status_mismatch")
    assert f"make the order {computed}, not {stated}" in error.message


@pytest.mark.parametrize(
    ("transactions", "stated"),
    [
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "100.00"}], "refunded"),
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "40.00"}], "partially_refunded"),
        ([{"kind": "sale", "amount": "100.00"}, {"kind": "refund", "amount": "40.00"}], None),
        ([], "paid"),  # Haravan's default for an order created without transactions
        ([{"kind": "authorization", "amount": "50.00"}], "partially_paid"),  # the document's new-customer example
    ],
)
def test_a_stated_status_stands_unless_refunds_say_otherwise(
    transactions: list[dict[str, Any]], stated: FinancialStatus | None
) -> None:
    created = build(_paid_with(*transactions, financial_status=stated))

    assert created.financial_status == (stated or "partially_refunded")


@pytest.mark.parametrize(
    "body",
    [VARIANT_ONLY, FULFILLED_WITH_RECEIPTS, COMPREHENSIVE, PENDING_EXISTING_CUSTOMER, PARTIALLY_PAID_NEW_CUSTOMER],
)
def test_object_ids_needed_is_exactly_what_build_order_takes(body: dict[str, Any]) -> None:
    draft = OrderDraft.model_validate(body)
    needed = domain.object_ids_needed(draft)
    ids = _ids(needed)

    created = domain.build_order(draft, ids, NOW, CATALOG, None)

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


# ---- money precision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "price", "shown"),
    [
        ("JPY", "1500", "1500"),
        ("JPY", "1500.00", "1500"),  # trailing zeros are no extra precision
        ("VND", "25000", "25000"),
        ("USD", "12.5", "12.50"),
        ("USD", "12.34", "12.34"),
        ("KWD", "1.2", "1.200"),
        ("KWD", "1.234", "1.234"),
    ],
)
def test_amounts_within_the_currency_precision_are_shown_at_it(currency: str, price: str, shown: str) -> None:
    created = build(order(custom(price), currency=currency))

    assert str(created.line_items[0].price) == str(created.total_price) == shown


@pytest.mark.parametrize(
    ("currency", "amount", "places"),
    [("JPY", "1500.5", 0), ("VND", "25000.01", 0), ("USD", "12.345", 2), ("USD", "0.001", 2), ("KWD", "1.2345", 3)],
)
@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("line item", "line_items[1].price"),
        ("shipping", "shipping_lines[0].price"),
        ("tax line", "tax_lines[0].price"),
        ("discount", "discount_codes[0].amount"),
        ("transaction", "transactions[0].amount"),
        ("total tax", "total_tax"),
    ],
)
def test_too_precise_amounts_are_refused_with_the_field_path(
    currency: str, amount: str, places: int, where: str, field: str
) -> None:
    bodies = {
        "line item": order(custom("100"), custom(amount)),
        "shipping": order(custom("100"), shipping_lines=[{"title": "Post", "price": amount}]),
        "tax line": order(custom("100"), tax_lines=[{"title": "VAT", "price": amount, "rate": "0.1"}]),
        "discount": order(custom("100"), discount_codes=[{"code": "X", "amount": amount}]),
        "transaction": order(custom("100"), transactions=[{"kind": "sale", "amount": amount}]),
        "total tax": order(custom("100"), total_tax=amount),
    }
    error = rule_error({**bodies[where], "currency": currency})

    assert (error.field, error.code) == (field, "too_precise")
    assert error.message == f"{currency} amounts have {places} decimal places; {amount} has more"


@pytest.mark.parametrize(("currency", "exponent"), [("JPY", 0), ("VND", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_currency_exponent(currency: str, exponent: int) -> None:
    assert domain.currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order(custom("1E+16")), "line_items[0].price"),
        (order(custom("1E+30")), "line_items[0].price"),
        (order(shipping_lines=[{"title": "Freight", "price": "1E+16"}]), "shipping_lines[0].price"),
        (order(transactions=[{"kind": "sale", "amount": "1E+30"}]), "transactions[0].amount"),
    ],
)
def test_amounts_too_large_to_store_are_refused(body: dict[str, Any], field: str) -> None:
    error = rule_error(body)

    assert (error.field, error.code) == (field, "amount_too_large")


def test_a_total_too_large_to_store_is_refused() -> None:
    error = rule_error(order(custom("9999999999999.99", 100_000)))

    assert (error.field, error.code) == ("line_items", "amount_too_large")


# ---- totals: tax, discounts, shipping -------------------------------------------------------------


def test_total_tax_must_match_the_tax_lines() -> None:
    error = rule_error(
        order(custom("100.00"), tax_lines=[{"title": "VAT", "price": "10.00", "rate": "0.1"}], total_tax="12.00")
    )

    assert (error.field, error.code) == ("total_tax", "total_tax_mismatch")
    assert "12.00" in error.message
    assert "10.00" in error.message


def test_total_tax_alone_is_added_to_the_total() -> None:
    created = build(order(custom("100.00"), total_tax="7.5"))

    assert (str(created.total_tax), str(created.total_price)) == ("7.50", "107.50")


def test_included_taxes_are_not_added_again() -> None:
    created = build(
        order(custom("110.00"), tax_lines=[{"title": "VAT", "price": "10.00", "rate": "0.1"}], taxes_included=True)
    )

    assert (str(created.total_tax), str(created.total_price)) == ("10.00", "110.00")


def test_shipping_and_discounts_make_up_the_total() -> None:
    created = build(
        order(
            custom("40.00", 2),
            shipping_lines=[{"title": "Post", "price": "5.5"}],
            discount_codes=[{"code": "TEN", "amount": "10"}],
        )
    )

    assert [
        str(amount)
        for amount in (
            created.total_line_items_price,
            created.total_discounts,
            created.subtotal_price,
            created.total_shipping_price,
            created.total_price,
        )
    ] == ["80.00", "10.00", "70.00", "5.50", "75.50"]


def test_discounts_beyond_the_items_are_refused() -> None:
    error = rule_error(
        order(custom("10.00"), discount_codes=[{"code": "A", "amount": "6"}, {"code": "B", "amount": "5"}])
    )

    assert (error.field, error.code) == ("discount_codes", "discount_exceeds_total")


def test_a_fully_discounted_order_is_paid() -> None:
    created = build(order(custom("10.00"), discount_codes=[{"code": "FREE", "amount": "10.00"}]))

    assert (str(created.total_price), created.financial_status) == ("0.00", "paid")


# ---- tags -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "stored"),
    [
        ("", ""),
        ("vip", "vip"),
        (" vip ,gift,, wholesale ", "vip, gift, wholesale"),
        ("a, b, a", "a, b"),
        ("x" * 40, "x" * 40),
    ],
)
def test_tags_are_normalised(tags: str, stored: str) -> None:
    assert build(order(tags=tags)).tags == stored


def test_a_tag_longer_than_40_characters_is_refused_at_create_and_update() -> None:
    error = rule_error(order(tags=f"ok, {'y' * 41}"))
    assert (error.field, error.code) == ("tags", "tag_too_long")

    with pytest.raises(OrderRuleError) as caught:
        domain.update(build(order()), OrderChanges(tags="z" * 41), LATER)
    assert (caught.value.field, caught.value.code) == ("tags", "tag_too_long")


# ---- status views: one place, every mapping -------------------------------------------------------


def _tx(kind: TransactionKind, amount: str, status: str = "success") -> Transaction:
    return Transaction.model_validate(
        {"id": 1, "kind": kind, "status": status, "amount": amount, "currency": "USD", "created_at": NOW}
    )


@pytest.mark.parametrize(
    ("transactions", "status"),
    [
        ([], "pending"),
        ([_tx("authorization", "100")], "authorized"),
        ([_tx("authorization", "40")], "authorized"),
        ([_tx("authorization", "100", "failure")], "pending"),
        ([_tx("authorization", "100"), _tx("void", "100")], "voided"),
        ([_tx("sale", "40")], "partially_paid"),
        ([_tx("authorization", "100"), _tx("capture", "60")], "partially_paid"),
        ([_tx("capture", "60"), _tx("capture", "40")], "paid"),
        ([_tx("sale", "100")], "paid"),
        ([_tx("sale", "120")], "paid"),
        ([_tx("sale", "100", "error")], "pending"),
        ([_tx("sale", "100"), _tx("refund", "30")], "partially_refunded"),
        ([_tx("sale", "100"), _tx("refund", "100")], "refunded"),
        ([_tx("sale", "100"), _tx("refund", "30"), _tx("refund", "70")], "refunded"),
        ([_tx("sale", "100"), _tx("refund", "100", "pending")], "paid"),
    ],
)
def test_financial_status_of_transaction_mixes(transactions: list[Transaction], status: FinancialStatus) -> None:
    assert domain.financial_status(Decimal(100), transactions) == status


def test_a_free_order_with_no_transactions_is_paid() -> None:
    assert domain.financial_status(Decimal(0), []) == "paid"


def _in_state(**fields: Any) -> OrderSnapshot:
    base = build(order(custom("100.00")))
    if "status" in fields:
        stamp = {"cancelled": "cancelled_at", "closed": "closed_at"}.get(fields["status"])
        fields = {**fields, **({stamp: NOW} if stamp else {})}
    return base.model_copy(update=fields)


DIGITAL_RIVER_CASES: list[tuple[dict[str, Any], DigitalRiverState]] = [
    ({"status": "cancelled", "financial_status": "paid", "fraud_state": "blocked"}, "cancelled"),
    ({"fraud_state": "blocked", "financial_status": "paid"}, "blocked"),
    ({"fraud_state": "review_opened", "financial_status": "authorized"}, "in_review"),
    ({"financial_status": "refunded", "fulfillment_status": "fulfilled"}, "returned"),
    ({"financial_status": "partially_refunded"}, "returned"),
    ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, "complete"),
    ({"financial_status": "authorized", "fulfillment_status": "fulfilled"}, "fulfilled"),
    ({"financial_status": "pending"}, "pending_payment"),
    ({"financial_status": "partially_paid", "fulfillment_status": "partial"}, "pending_payment"),
    ({"financial_status": "authorized"}, "accepted"),
    ({"financial_status": "paid"}, "accepted"),
    ({"financial_status": "paid", "fulfillment_status": "partial"}, "accepted"),
    ({"status": "closed", "financial_status": "paid"}, "accepted"),
]


@pytest.mark.parametrize(("fields", "state"), DIGITAL_RIVER_CASES)
def test_digital_river_state(fields: dict[str, Any], state: DigitalRiverState) -> None:
    assert domain.digital_river_state(_in_state(**fields)) == state


def test_the_digital_river_cases_cover_every_state_the_mapping_produces() -> None:
    produced = {state for _, state in DIGITAL_RIVER_CASES}
    # `dispute` has no source in the order yet: no chargeback facts are ingested.
    assert produced == set(get_args(DigitalRiverState)) - {"dispute"}


@pytest.mark.parametrize(
    ("fields", "triple"),
    [
        ({"financial_status": "pending"}, ("incomplete", "unpaid", "unfulfilled")),
        ({"financial_status": "voided"}, ("incomplete", "unpaid", "unfulfilled")),
        ({"financial_status": "authorized"}, ("processing", "authorized", "unfulfilled")),
        ({"financial_status": "partially_paid"}, ("processing", "authorized", "unfulfilled")),
        ({"financial_status": "paid"}, ("processing", "paid", "unfulfilled")),
        ({"financial_status": "paid", "fulfillment_status": "partial"}, ("processing", "paid", "unfulfilled")),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, ("complete", "paid", "fulfilled")),
        (
            {"financial_status": "partially_refunded", "fulfillment_status": "fulfilled"},
            ("complete", "paid", "fulfilled"),
        ),
        ({"financial_status": "refunded", "fulfillment_status": "fulfilled"}, ("complete", "refunded", "fulfilled")),
        ({"financial_status": "refunded"}, ("processing", "refunded", "unfulfilled")),
        ({"financial_status": "pending", "fulfillment_status": "fulfilled"}, ("incomplete", "unpaid", "fulfilled")),
        ({"status": "cancelled", "financial_status": "paid"}, ("cancelled", "paid", "unfulfilled")),
        ({"status": "cancelled", "financial_status": "voided"}, ("cancelled", "unpaid", "unfulfilled")),
    ],
)
def test_elastic_path_status(fields: dict[str, Any], triple: tuple[str, str, str]) -> None:
    assert domain.elastic_path_status(_in_state(**fields)) == ElasticPathStatus(*triple)  # type: ignore[arg-type]


# ---- close, reopen, delete ----------------------------------------------------------------------------


def test_close_then_reopen() -> None:
    created = build(order())

    closed = domain.close(created, LATER)
    assert (closed.status, closed.closed_at, closed.updated_at) == ("closed", LATER, LATER)
    assert domain.order_status(closed) == "closed"

    reopened = domain.reopen(closed, LATER + timedelta(minutes=1))
    assert (reopened.status, reopened.closed_at) == ("open", None)
    assert domain.order_status(reopened) == "open"


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_only_an_open_order_closes(status: str) -> None:
    with pytest.raises(OrderStateError) as caught:
        domain.close(_in_state(status=status), LATER)

    assert (caught.value.field, caught.value.code) == ("status", "order_not_open")


@pytest.mark.parametrize("status", ["open", "cancelled"])
def test_only_a_closed_order_reopens(status: str) -> None:
    with pytest.raises(OrderStateError) as caught:
        domain.reopen(_in_state(status=status), LATER)

    assert (caught.value.field, caught.value.code) == ("status", "order_not_closed")


@pytest.mark.parametrize(
    ("status", "financial_status", "deletable"),
    [
        ("open", "pending", True),
        ("open", "voided", True),
        ("open", "authorized", False),
        ("open", "paid", False),
        ("open", "partially_refunded", False),
        ("closed", "paid", True),
        ("cancelled", "refunded", True),
    ],
)
def test_check_deletable(status: str, financial_status: str, deletable: bool) -> None:
    candidate = _in_state(status=status, financial_status=financial_status)
    if deletable:
        domain.check_deletable(candidate)
    else:
        with pytest.raises(OrderStateError) as caught:
            domain.check_deletable(candidate)
        assert (caught.value.field, caught.value.code) == ("status", "order_not_deletable")


# ---- update ---------------------------------------------------------------------------------------------


def test_update_changes_only_what_it_names_and_keeps_items_and_totals() -> None:
    created = build(PENDING_EXISTING_CUSTOMER, REGISTERED)

    updated = domain.update(
        created,
        OrderChanges(
            note="leave at the door",
            note_attributes=[NameValue(name="colour", value="red")],
            email="new@example.com",
            buyer_accepts_marketing=True,
            tags="gift",
        ),
        LATER,
    )

    assert (updated.note, updated.email, updated.buyer_accepts_marketing, updated.tags) == (
        "leave at the door",
        "new@example.com",
        True,
        "gift",
    )
    assert updated.note_attributes == [NameValue(name="colour", value="red")]
    assert updated.updated_at == LATER
    unchanged = {"note", "note_attributes", "email", "buyer_accepts_marketing", "tags", "updated_at"}
    assert updated.model_dump(exclude=unchanged) == created.model_dump(exclude=unchanged)


def test_an_empty_update_only_touches_updated_at() -> None:
    created = build(order(note="keep", tags="a"))

    updated = domain.update(created, OrderChanges(), LATER)

    assert updated == created.model_copy(update={"updated_at": LATER})


def test_metafields_merge_by_namespace_and_key() -> None:
    created = build(
        order(
            metafields=[
                {"namespace": "inventory", "key": "warehouse", "value": "1"},
                {"namespace": "crm", "key": "warehouse", "value": "north"},
            ]
        )
    )

    updated = domain.update(
        created,
        OrderChanges(
            metafields=[
                Metafield(namespace="inventory", key="warehouse", value="2", value_type="integer"),
                Metafield(namespace="inventory", key="shelf", value="B4"),
            ]
        ),
        LATER,
    )

    assert {(m.namespace, m.key): m.value for m in updated.metafields} == {
        ("inventory", "warehouse"): "2",
        ("crm", "warehouse"): "north",
        ("inventory", "shelf"): "B4",
    }
    assert len(updated.metafields) == 3


def test_metadata_merges_and_forget_flags_set() -> None:
    created = build(order(metadata={"a": "1", "b": "2"}))

    updated = domain.update(
        created, OrderChanges(metadata={"b": "3", "c": "4"}, request_to_be_forgotten=True, upstream_id="up-1"), LATER
    )

    assert updated.metadata == {"a": "1", "b": "3", "c": "4"}
    assert (updated.request_to_be_forgotten, updated.upstream_id) == (True, "up-1")


@pytest.mark.parametrize(("customer", "guest"), [(REGISTERED, False), (CHECKOUT_RECORD, True)])
def test_removing_the_customer_keeps_the_order_the_kind_it_was_placed_as(
    customer: CustomerSnapshot, guest: bool
) -> None:
    created = build(PENDING_EXISTING_CUSTOMER, customer)
    assert created.guest is guest

    updated = domain.update(created, OrderChanges(remove_customer=True), LATER)

    assert (updated.customer, updated.guest) == (None, guest)
    assert updated.email == created.email


# ---- payments ---------------------------------------------------------------------------------------------


def _pay(
    target: OrderSnapshot, kind: PaymentKind, amount: str, currency: str = "USD", tx_id: int = 900
) -> tuple[OrderSnapshot, str]:
    fact = PaymentFact(order_id=target.id, amount=Decimal(amount), currency=currency, gateway="stripe")
    return domain.apply_payment(target, kind, fact, tx_id, LATER)


def test_order_paid_is_emitted_only_on_the_transition_to_paid() -> None:
    created = build(order(custom("100.00")))

    authorized, event = _pay(created, "authorized", "100.00", tx_id=901)
    assert (authorized.financial_status, event) == ("authorized", "order.updated")

    partly, event = _pay(authorized, "captured", "60.00", tx_id=902)
    assert (partly.financial_status, event) == ("partially_paid", "order.updated")

    paid, event = _pay(partly, "captured", "40.00", tx_id=903)
    assert (paid.financial_status, event) == ("paid", "order.paid")

    again, event = _pay(paid, "captured", "1.00", tx_id=904)
    assert (again.financial_status, event) == ("paid", "order.updated")

    assert [(tx.id, tx.kind, str(tx.amount)) for tx in again.transactions] == [
        (901, "authorization", "100.00"),
        (902, "capture", "60.00"),
        (903, "capture", "40.00"),
        (904, "capture", "1.00"),
    ]
    assert again.transactions[-1].gateway == "stripe"
    assert again.updated_at == LATER


def test_a_void_after_authorization_voids() -> None:
    authorized, _ = _pay(build(order(custom("100.00"))), "authorized", "100.00")

    voided, event = _pay(authorized, "voided", "100.00")

    assert (voided.financial_status, event) == ("voided", "order.updated")


def test_payment_in_another_currency_is_refused() -> None:
    with pytest.raises(OrderRuleError) as caught:
        _pay(build(order(custom("100.00"))), "captured", "100.00", currency="EUR")

    assert (caught.value.field, caught.value.code) == ("currency", "currency_mismatch")
    assert not isinstance(caught.value, OrderStateError)


def test_a_cancelled_order_takes_no_payment_but_a_void() -> None:
    cancelled = _in_state(status="cancelled", financial_status="authorized")

    with pytest.raises(OrderStateError) as caught:
        _pay(cancelled, "captured", "100.00")
    assert (caught.value.field, caught.value.code) == ("status", "order_cancelled")

    voided, _ = _pay(cancelled, "voided", "100.00")
    assert voided.financial_status == "voided"


def test_a_too_precise_payment_is_refused() -> None:
    with pytest.raises(OrderRuleError) as caught:
        _pay(build(order(custom("100"), currency="JPY")), "captured", "99.5", currency="JPY")

    assert (caught.value.field, caught.value.code) == ("amount", "too_precise")


# ---- fulfilments ---------------------------------------------------------------------------------------------


def _two_items() -> OrderSnapshot:
    return build(order(custom("10.00", 3, title="Cup"), custom("20.00", 1, title="Saucer")))


def _fulfil(target: OrderSnapshot, fulfillment_id: int, *lines: tuple[int, int]) -> OrderSnapshot:
    fact = FulfillmentCreatedFact(
        order_id=target.id,
        fulfillment_id=fulfillment_id,
        line_items=[FulfillmentLineFact(line_item_id=item, quantity=quantity) for item, quantity in lines],
        tracking_number=f"TRACK{fulfillment_id}",
    )
    return domain.fulfil(target, fact, LATER)


def _item_states(target: OrderSnapshot) -> Sequence[tuple[int, FulfillmentStatus | None]]:
    return [(item.fulfillable_quantity, item.fulfillment_status) for item in target.line_items]


def test_partial_fulfilments_add_up_to_fulfilled() -> None:
    created = _two_items()
    cup, saucer = (item.id for item in created.line_items)

    first = _fulfil(created, 1, (cup, 2))
    assert first.fulfillment_status == "partial"
    assert _item_states(first) == [(1, "partial"), (1, None)]
    assert domain.fulfillment_event(first) == "order.partially_fulfilled"

    second = _fulfil(first, 2, (cup, 1), (saucer, 1))
    assert second.fulfillment_status == "fulfilled"
    assert _item_states(second) == [(0, "fulfilled"), (0, "fulfilled")]
    assert domain.fulfillment_event(second) == "order.fulfilled"
    assert [(f.id, f.tracking_number, f.status) for f in second.fulfillments] == [
        (1, "TRACK1", "success"),
        (2, "TRACK2", "success"),
    ]


def test_a_fulfilment_naming_no_items_ships_what_is_left() -> None:
    created = _two_items()
    cup, saucer = (item.id for item in created.line_items)
    first = _fulfil(created, 1, (cup, 1))

    rest = _fulfil(first, 2)

    assert [(line.id, line.quantity) for line in rest.fulfillments[-1].line_items] == [(cup, 2), (saucer, 1)]
    assert rest.fulfillment_status == "fulfilled"
    with pytest.raises(OrderStateError) as caught:
        _fulfil(rest, 3)
    assert caught.value.code == "nothing_to_fulfil"


@pytest.mark.parametrize("quantity", [4, 0, -1])
def test_over_fulfilment_and_non_positive_quantities_are_refused(quantity: int) -> None:
    created = _two_items()

    with pytest.raises(OrderRuleError) as caught:
        _fulfil(created, 1, (created.line_items[0].id, quantity))

    assert (caught.value.field, caught.value.code) == ("line_items", "invalid_quantity")


def test_over_fulfilment_counts_what_earlier_fulfilments_shipped() -> None:
    created = _two_items()
    cup = created.line_items[0].id
    first = _fulfil(created, 1, (cup, 2))

    with pytest.raises(OrderRuleError) as caught:
        _fulfil(first, 2, (cup, 2))

    assert caught.value.code == "invalid_quantity"
    assert "1 left" in caught.value.message


def test_naming_a_line_item_twice_is_refused() -> None:
    created = _two_items()
    cup = created.line_items[0].id

    with pytest.raises(OrderRuleError) as caught:
        _fulfil(created, 1, (cup, 1), (cup, 1))

    assert (caught.value.field, caught.value.code) == ("line_items", "duplicate_line_item")


def test_an_unknown_line_item_is_refused() -> None:
    with pytest.raises(OrderRuleError) as caught:
        _fulfil(_two_items(), 1, (123, 1))

    assert (caught.value.field, caught.value.code) == ("line_items", "unknown_line_item")


def test_a_fulfillment_id_is_used_once() -> None:
    created = _two_items()
    first = _fulfil(created, 1, (created.line_items[0].id, 1))

    with pytest.raises(OrderStateError) as caught:
        _fulfil(first, 1, (created.line_items[1].id, 1))

    assert (caught.value.field, caught.value.code) == ("fulfillment_id", "duplicate_fulfillment")


def test_a_cancelled_order_is_not_fulfilled() -> None:
    with pytest.raises(OrderStateError) as caught:
        _fulfil(_in_state(status="cancelled"), 1)

    assert caught.value.code == "order_cancelled"


def test_cancelling_a_fulfillment_puts_its_items_back() -> None:
    created = _two_items()
    cup, saucer = (item.id for item in created.line_items)
    shipped = _fulfil(_fulfil(created, 1, (cup, 2)), 2, (cup, 1), (saucer, 1))

    cancelled = domain.cancel_fulfillment(shipped, 2, LATER)

    assert [f.status for f in cancelled.fulfillments] == ["success", "cancelled"]
    assert _item_states(cancelled) == [(1, "partial"), (1, None)]
    assert cancelled.fulfillment_status == "partial"
    assert domain.fulfillment_event(cancelled) == "order.partially_fulfilled"

    none_left = domain.cancel_fulfillment(cancelled, 1, LATER)
    assert none_left.fulfillment_status is None
    assert _item_states(none_left) == [(3, None), (1, None)]
    assert domain.fulfillment_event(none_left) == "order.updated"


def test_cancelling_an_unknown_or_cancelled_fulfillment_is_refused() -> None:
    created = _two_items()
    shipped = _fulfil(created, 1)

    with pytest.raises(OrderRuleError) as caught:
        domain.cancel_fulfillment(shipped, 99, LATER)
    assert (caught.value.field, caught.value.code) == ("fulfillment_id", "unknown_fulfillment")

    cancelled = domain.cancel_fulfillment(shipped, 1, LATER)
    with pytest.raises(OrderStateError) as caught_again:
        domain.cancel_fulfillment(cancelled, 1, LATER)
    assert caught_again.value.code == "fulfillment_cancelled"


@pytest.mark.parametrize("price", ["-0", "-0.00"])
def test_a_negative_zero_price_is_shown_as_zero(price: str) -> None:
    created = build(order(custom(price), custom("5.00")))

    assert [str(item.price) for item in created.line_items] == ["0.00", "5.00"]
    assert str(created.total_price) == "5.00"


@pytest.mark.parametrize("seed", range(3))
def test_totals_match_integer_minor_unit_arithmetic(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        currency = rng.choice(["JPY", "VND", "USD", "EUR", "KWD", "BHD"])
        exponent = domain.currency_exponent(currency)
        assert exponent is not None
        minors = [(rng.randrange(0, 10**8), rng.randrange(1, 50)) for _ in range(rng.randrange(1, 6))]
        shipping_minor = rng.randrange(0, 10**4)
        items = [custom(str(Decimal(minor).scaleb(-exponent)), quantity) for minor, quantity in minors]
        shipping = [{"title": "Post", "price": str(Decimal(shipping_minor).scaleb(-exponent))}]

        created = build(order(*items, currency=currency, shipping_lines=shipping))

        items_minor = sum(minor * quantity for minor, quantity in minors)
        assert created.total_line_items_price == Decimal(items_minor).scaleb(-exponent)
        assert created.total_price == Decimal(items_minor + shipping_minor).scaleb(-exponent)
        assert created.total_price.as_tuple().exponent == -exponent

        # One digit more than the currency has is always refused, naming the item.
        too_fine = str(Decimal(rng.randrange(1, 10**6) * 10 + rng.randrange(1, 10)).scaleb(-(exponent + 1)))
        error = rule_error(order(*items, custom(too_fine), currency=currency))
        assert (error.field, error.code) == (f"line_items[{len(items)}].price", "too_precise")


# ---- limits: what an order may hold, and how large its event may be --------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"line_items": [custom("1.00")] * 251}, "line_items"),
        ({"transactions": [{"kind": "authorization", "amount": "0.01"}] * 251}, "transactions"),
        ({"metafields": [{"namespace": "n", "key": str(k), "value": "v"} for k in range(101)]}, "metafields"),
        ({"metadata": {str(k): "v" for k in range(51)}}, "metadata"),
    ],
)
def test_a_draft_beyond_what_an_order_may_hold_is_refused(fields: dict[str, Any], field: str) -> None:
    # Orders placed through orders.ingest have no request model to bound them: the rule does.
    error = rule_error(order(**fields))

    assert (error.field, error.code) == (field, "too_many_entries")


def _metafields(*keys: str) -> list[Metafield]:
    return [Metafield(namespace="global", key=key, value="v") for key in keys]


def test_metafields_merged_beyond_100_are_refused_but_replacing_existing_ones_is_not() -> None:
    full = build(order(metafields=[m.model_dump() for m in _metafields(*map(str, range(100)))]))

    replaced = domain.update(full, OrderChanges(metafields=_metafields("0", "99")), LATER)
    with pytest.raises(OrderRuleError) as caught:
        domain.update(full, OrderChanges(metafields=_metafields("0", "new")), LATER)

    assert len(replaced.metafields) == 100
    assert (caught.value.field, caught.value.code) == ("metafields", "too_many_entries")
    assert "at most 100" in caught.value.message


def test_metadata_merged_beyond_50_keys_is_refused_but_overwriting_keys_is_not() -> None:
    full = build(order(metadata={str(k): "v" for k in range(50)}))

    overwritten = domain.update(full, OrderChanges(metadata={"0": "w", "49": "w"}), LATER)
    with pytest.raises(OrderRuleError) as caught:
        domain.update(full, OrderChanges(metadata={"0": "w", "50": "v"}), LATER)

    assert len(overwritten.metadata) == 50
    assert (caught.value.field, caught.value.code) == ("metadata", "too_many_entries")


def test_a_payment_beyond_250_transactions_is_refused() -> None:
    created = build(order(custom("1000.00"), transactions=[{"kind": "authorization", "amount": "1.00"}] * 249))

    at_limit, _ = _pay(created, "captured", "1.00", tx_id=901)
    with pytest.raises(OrderRuleError) as caught:
        _pay(at_limit, "captured", "1.00", tx_id=902)

    assert len(at_limit.transactions) == 250
    assert (caught.value.field, caught.value.code) == ("transactions", "too_many_entries")


def test_a_fulfillment_beyond_250_is_refused_even_with_items_left() -> None:
    created = build(order(custom("1.00", quantity=300)))
    [item] = created.line_items
    shipped = created
    for fulfillment_id in range(1, 251):
        shipped = _fulfil(shipped, fulfillment_id, (item.id, 1))

    with pytest.raises(OrderRuleError) as caught:
        _fulfil(shipped, 251, (item.id, 1))

    assert shipped.line_items[0].fulfillable_quantity == 50
    assert (caught.value.field, caught.value.code) == ("fulfillments", "too_many_entries")


def test_an_event_larger_than_the_limit_is_refused_naming_both_sizes() -> None:
    domain.check_event_size(1_000_000, 1_000_000)

    with pytest.raises(OrderRuleError) as caught:
        domain.check_event_size(1_144_468, 1_000_000)

    assert (caught.value.field, caught.value.code) == (domain.WHOLE_ORDER, "order_too_large")
    assert "1,144,468 bytes" in caught.value.message
    assert "1,000,000" in caught.value.message
