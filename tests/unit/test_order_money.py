"""Money (services/order_api/domain/money.py): amounts at their currency's precision, too precise or too
large ones refused, and the totals an order adds up to. Pure functions, no I/O."""

import random
from decimal import Decimal
from typing import Any

import pytest

from shared.money import currency_exponent
from tests.support.order_rules import (
    build,
    custom,
    order,
    rule_error,
)

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
    assert currency_exponent(currency) == exponent


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
        exponent = currency_exponent(currency)
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
