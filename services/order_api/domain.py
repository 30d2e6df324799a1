"""Pure order rules: validation beyond types, and money math. No I/O, no framework imports."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

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


def currency_exponent(currency: str) -> int | None:
    """Digits after the decimal point in `currency`, or None when we do not support it."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    if currency in _TWO_DECIMAL:
        return 2
    return None


class OrderRuleError(ValueError):
    """Input that is well-typed but breaks an order rule; `field` names what to fix."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class LineItemDraft:
    title: str
    price: Decimal
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderDraft:
    email: str
    currency: str
    line_items: tuple[LineItemDraft, ...]


@dataclass(frozen=True, slots=True)
class PricedOrder:
    """A draft whose money is checked against its currency, with totals computed."""

    email: str
    currency: str
    line_items: tuple[LineItemDraft, ...]
    subtotal_price: Decimal
    total_price: Decimal


def price_order(draft: OrderDraft) -> PricedOrder:
    """Check every amount fits the currency's precision and compute the totals."""
    exponent = currency_exponent(draft.currency)
    if exponent is None:
        raise OrderRuleError("currency", "unsupported_currency", f"{draft.currency} is not a supported currency")
    if not draft.line_items:
        raise OrderRuleError("line_items", "no_line_items", "an order needs at least one line item")
    quantum = Decimal(1).scaleb(-exponent)
    items: list[LineItemDraft] = []
    for index, item in enumerate(draft.line_items):
        if item.price < 0:
            raise OrderRuleError(f"line_items[{index}].price", "negative_price", "price must not be negative")
        if item.quantity < 1:
            raise OrderRuleError(f"line_items[{index}].quantity", "invalid_quantity", "quantity must be at least 1")
        if item.price != item.price.quantize(quantum):
            raise OrderRuleError(
                f"line_items[{index}].price",
                "too_precise",
                f"{draft.currency} amounts have {exponent} decimal places; {item.price} has more",
            )
        items.append(LineItemDraft(item.title, item.price.quantize(quantum), item.quantity))
    subtotal = sum((item.price * item.quantity for item in items), Decimal(0)).quantize(quantum)
    return PricedOrder(draft.email.strip(), draft.currency, tuple(items), subtotal, subtotal)


def money(amount: Decimal, currency: str) -> Decimal:
    """`amount` at the currency's precision (the database keeps four places for every currency)."""
    exponent = currency_exponent(currency)
    return amount if exponent is None else amount.quantize(Decimal(1).scaleb(-exponent))


def order_name(number: int) -> str:
    """The order's display name, as the Haravan document shows it (`#1001`)."""
    return f"#{number}"
