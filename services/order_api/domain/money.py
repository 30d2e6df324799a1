"""Money: the currencies we accept, their precision, and amounts checked against both."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from services.order_api.domain.errors import OrderRuleError

# ISO 4217 minor units of the currencies we accept; absent means unsupported. Most have 2.
_ZERO_DECIMAL: Final = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split())
_THREE_DECIMAL: Final = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_TWO_DECIMAL: Final = frozenset(
    """AED ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BWP BYN BZD CAD CDF CHF
    CNY COP CRC CVE CZK DKK DOP DZD EGP ETB EUR FJD GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR
    ILS INR JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN
    MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SEK SGD SHP
    SLE SOS SRD SZL THB TJS TOP TRY TTD TWD TZS UAH USD UYU UZS WST XCD YER ZAR ZMW""".split()
)

DEFAULT_CURRENCY: Final = "USD"
# Amounts are stored as numeric(20, 4): at most 16 digits before the point.
MAX_AMOUNT: Final = Decimal(10) ** 16


def currency_exponent(currency: str) -> int | None:
    """Digits after the decimal point in `currency`, or None when we do not support it."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    if currency in _TWO_DECIMAL:
        return 2
    return None


def money(amount: Decimal, currency: str) -> Decimal:
    """`amount` at the currency's precision (the database keeps four places for every currency)."""
    exponent = currency_exponent(currency)
    # `+ 0` makes a negative zero (a price sent as "-0") a plain 0.00.
    return amount if exponent is None else amount.quantize(Decimal(1).scaleb(-exponent)) + 0


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
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        raise OrderRuleError(
            field, "too_precise", f"{currency} amounts have {exponent} decimal places; {amount} has more"
        )
    if amount < 0:
        raise OrderRuleError(field, "negative_amount", "amounts must not be negative")
    return money(amount, currency)
