"""Order rules and money math (services/order_api/domain.py)."""

import random
from decimal import Decimal

import pytest

from services.order_api.domain import (
    LineItemDraft,
    OrderDraft,
    OrderRuleError,
    PricedOrder,
    currency_exponent,
    money,
    order_name,
    price_order,
)


def _draft(currency: str, *items: tuple[str, int], email: str = "ada@example.com") -> OrderDraft:
    return OrderDraft(
        email,
        currency,
        tuple(LineItemDraft(f"item {i}", Decimal(price), quantity) for i, (price, quantity) in enumerate(items)),
    )


def _rule_error(draft: OrderDraft) -> OrderRuleError:
    with pytest.raises(OrderRuleError) as caught:
        price_order(draft)
    return caught.value


# ---- totals ------------------------------------------------------------------------------------


def test_totals_of_several_items_and_quantities() -> None:
    priced = price_order(_draft("USD", ("19.99", 3), ("0.10", 7), ("250", 1)))

    assert priced.subtotal_price == Decimal("310.67")
    assert priced.total_price == Decimal("310.67")
    assert str(priced.subtotal_price) == "310.67"


def test_decimal_math_has_no_float_drift() -> None:
    # 0.1 + 0.2 is the classic float trap
    priced = price_order(_draft("USD", ("0.10", 1), ("0.20", 1)))

    assert str(priced.total_price) == "0.30"


def test_result_keeps_the_draft_with_a_trimmed_email() -> None:
    priced = price_order(_draft("EUR", ("5.00", 2), email="  ada@example.com \n"))

    assert priced == PricedOrder(
        "ada@example.com",
        "EUR",
        (LineItemDraft("item 0", Decimal("5.00"), 2),),
        Decimal("10.00"),
        Decimal("10.00"),
    )


def test_prices_are_normalised_to_the_currency_precision() -> None:
    priced = price_order(_draft("USD", ("10", 1), ("2.5", 2), ("1.2300", 1)))

    assert [str(item.price) for item in priced.line_items] == ["10.00", "2.50", "1.23"]
    assert str(priced.subtotal_price) == "16.23"


def test_free_items_are_allowed() -> None:
    priced = price_order(_draft("USD", ("0", 1), ("0.00", 5)))

    assert str(priced.total_price) == "0.00"


def test_large_totals_stay_exact() -> None:
    priced = price_order(_draft("USD", ("999999999999.99", 1000)))

    assert priced.total_price == Decimal("999999999999990.00")
    assert str(priced.total_price) == "999999999999990.00"


# ---- currency precision ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("JPY", 0), ("VND", 0), ("KRW", 0), ("USD", 2), ("EUR", 2), ("GBP", 2), ("KWD", 3), ("BHD", 3), ("TND", 3)],
)
def test_currency_exponent(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize("currency", ["XXX", "usd", "", "BTC", "US"])
def test_unknown_currency_exponent_is_none(currency: str) -> None:
    assert currency_exponent(currency) is None


@pytest.mark.parametrize(
    ("currency", "price", "total"),
    [
        ("JPY", "1500", "4500"),
        ("JPY", "1500.00", "4500"),  # trailing zeros are not extra precision
        ("VND", "25000", "75000"),
        ("USD", "12.34", "37.02"),
        ("KWD", "1.234", "3.702"),
        ("KWD", "1.2", "3.600"),
    ],
)
def test_prices_within_precision_are_accepted(currency: str, price: str, total: str) -> None:
    priced = price_order(_draft(currency, (price, 3)))

    assert str(priced.total_price) == total


@pytest.mark.parametrize(
    ("currency", "price", "places"),
    [
        ("JPY", "1500.5", 0),
        ("VND", "25000.01", 0),
        ("USD", "12.345", 2),
        ("USD", "0.001", 2),
        ("KWD", "1.2345", 3),
    ],
)
def test_too_precise_price_is_refused(currency: str, price: str, places: int) -> None:
    error = _rule_error(_draft(currency, ("1", 1), (price, 2)))

    assert error.code == "too_precise"
    assert error.field == "line_items[1].price"
    assert error.message == f"{currency} amounts have {places} decimal places; {price} has more"
    assert str(error) == error.message


@pytest.mark.parametrize("currency", ["XXX", "usd", "BTC"])
def test_unsupported_currency_is_refused(currency: str) -> None:
    error = _rule_error(_draft(currency, ("1.00", 1)))

    assert error.code == "unsupported_currency"
    assert error.field == "currency"
    assert currency in error.message


def test_negative_price_is_refused() -> None:
    error = _rule_error(_draft("USD", ("1.00", 1), ("2.00", 1), ("-0.01", 1)))

    assert (error.field, error.code) == ("line_items[2].price", "negative_price")


@pytest.mark.parametrize("quantity", [0, -3])
def test_quantity_below_one_is_refused(quantity: int) -> None:
    error = _rule_error(_draft("USD", ("1.00", quantity)))

    assert (error.field, error.code) == ("line_items[0].quantity", "invalid_quantity")


def test_empty_order_is_refused() -> None:
    error = _rule_error(_draft("USD"))

    assert (error.field, error.code) == ("line_items", "no_line_items")


def test_first_broken_item_is_reported() -> None:
    error = _rule_error(_draft("USD", ("1.00", 1), ("1.001", 0), ("-5", 1)))

    assert error.field == "line_items[1].quantity"


def test_order_rule_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least one line item"):
        price_order(_draft("USD"))


# ---- property-style check over random orders ---------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_totals_match_integer_minor_unit_arithmetic(seed: int) -> None:
    rng = random.Random(seed)
    currencies = ["JPY", "VND", "USD", "EUR", "KWD", "BHD"]
    for _ in range(200):
        currency = rng.choice(currencies)
        exponent = currency_exponent(currency)
        assert exponent is not None
        minors = [(rng.randrange(0, 10**8), rng.randrange(1, 50)) for _ in range(rng.randrange(1, 8))]
        items = tuple(LineItemDraft("x", Decimal(minor).scaleb(-exponent), quantity) for minor, quantity in minors)

        priced = price_order(OrderDraft("a@example.com", currency, items))

        expected_minor = sum(minor * quantity for minor, quantity in minors)
        assert priced.total_price == priced.subtotal_price
        assert priced.total_price == Decimal(expected_minor).scaleb(-exponent)
        assert priced.total_price.as_tuple().exponent == -exponent

        # one more digit than the currency allows is always refused
        too_fine = Decimal(rng.randrange(1, 10**6) * 10 + rng.randrange(1, 10)).scaleb(-(exponent + 1))
        with pytest.raises(OrderRuleError) as caught:
            price_order(OrderDraft("a@example.com", currency, (*items, LineItemDraft("y", too_fine, 1))))
        assert caught.value.code == "too_precise"
        assert caught.value.field == f"line_items[{len(items)}].price"


# ---- money / order_name ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("12.3400", "USD", "12.34"),
        ("1500.0000", "JPY", "1500"),
        ("25000.0000", "VND", "25000"),
        ("1.2340", "KWD", "1.234"),
        ("7", "USD", "7.00"),
        ("0.0000", "EUR", "0.00"),
    ],
)
def test_money_shows_the_currency_precision(amount: str, currency: str, shown: str) -> None:
    assert str(money(Decimal(amount), currency)) == shown


def test_money_leaves_unknown_currencies_alone() -> None:
    assert str(money(Decimal("1.2345"), "XXX")) == "1.2345"


@pytest.mark.parametrize(("number", "name"), [(1001, "#1001"), (1, "#1"), (123456789, "#123456789")])
def test_order_name(number: int, name: str) -> None:
    assert order_name(number) == name
