"""Money in ISO 4217 currencies: how many decimals each has, and amounts as whole minor units.

Services compute in minor units (ints) where shares are allocated, so that no minor unit is lost or
created by rounding, and show amounts as Decimals at the currency's precision.
"""

from decimal import Decimal
from typing import Final

# Minor units of the currencies we accept; absent means unsupported. Most have 2.
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
    """Digits after the decimal point in `currency`, or None when it is not supported."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    if currency in _TWO_DECIMAL:
        return 2
    return None


def _exponent(currency: str) -> int:
    exponent = currency_exponent(currency)
    if exponent is None:
        raise ValueError(f"{currency} is not a supported ISO 4217 currency")
    return exponent


def is_precise(amount: Decimal, currency: str) -> bool:
    """Whether `amount` has no more decimals than `currency` has."""
    return amount == amount.quantize(Decimal(1).scaleb(-_exponent(currency)))


def to_minor(amount: Decimal, currency: str) -> int:
    """`amount` in minor units (cents); it must be at the currency's precision."""
    units = amount.scaleb(_exponent(currency))
    if units != units.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} has")
    return int(units)


def from_minor(units: int, currency: str) -> Decimal:
    """`units` minor units as an amount at the currency's precision (-0 shown as 0)."""
    exponent = _exponent(currency)
    return (Decimal(units).scaleb(-exponent) + 0).quantize(Decimal(1).scaleb(-exponent))


def allocate(total: int, weights: list[int]) -> list[int]:
    """`total` (>= 0) minor units split in proportion to `weights` (>= 0) by largest remainder: each
    share is the floor of its exact share, and the units left over go to the largest remainders (the
    earliest on a tie), so the shares add up to `total` exactly. All-zero weights share it equally."""
    if not any(weights):
        weights = [1] * len(weights)
    weight = sum(weights)
    shares = [total * part // weight for part in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight), i))
    for index in remainders[: total - sum(shares)]:
        shares[index] += 1
    return shares
