"""Money: the currencies we accept, their precision, and amounts checked against both."""

from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import Final

from services.order_api.domain.errors import OrderRuleError
from shared.money import currency_exponent

DEFAULT_CURRENCY: Final = "USD"
# Amounts are stored as numeric(20, 4): at most 16 digits before the point.
MAX_AMOUNT: Final = Decimal(10) ** 16


@cache
def _quantum(exponent: int) -> Decimal:
    """The smallest step of an amount with `exponent` decimal places (made once: a create rounds a dozen)."""
    return Decimal(1).scaleb(-exponent)


def money(amount: Decimal, currency: str) -> Decimal:
    """`amount` at the currency's precision (the database keeps four places for every currency)."""
    exponent = currency_exponent(currency)
    # `+ 0` makes a negative zero (a price sent as "-0") a plain 0.00.
    return amount if exponent is None else amount.quantize(_quantum(exponent)) + 0


def total(amounts: Iterable[Decimal], currency: str) -> Decimal:
    """The sum of `amounts` at the currency's precision."""
    return money(sum(amounts, Decimal(0)), currency)


def check_money(amount: Decimal, currency: str, field: str) -> Decimal:
    """`amount` at the currency's precision, refused when it is too large to store, finer than the
    currency's precision, or negative; `field` names it in the refusal."""
    exponent = currency_exponent(currency)
    assert exponent is not None
    if abs(amount) >= MAX_AMOUNT:
        raise OrderRuleError(field, "amount_too_large", f"amounts must be below {MAX_AMOUNT:,}")
    if amount != amount.quantize(_quantum(exponent)):
        raise OrderRuleError(
            field, "too_precise", f"{currency} amounts have {exponent} decimal places; {amount} has more"
        )
    if amount < 0:
        raise OrderRuleError(field, "negative_amount", "amounts must not be negative")
    return money(amount, currency)
