"""Request field types every order dialect shares: amounts, rates and IP addresses, each accepted
exactly as its OpenAPI schema states it.

Decimals come as JSON numbers or as strings of ASCII digits (`"199.00"`). pydantic alone would also
take other Unicode digits (`"١٢"`), surrounding spaces and exponents (`"1e3"`) in a string; the
documented pattern excludes them, so they are refused here with it.
"""

import ipaddress
import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema


def _decimal_text(digits: int, places: int, example: str) -> tuple[BeforeValidator, WithJsonSchema]:
    """A strict string form for a decimal of at most `digits` digits before the point and `places`
    after it, and the schema saying so (pydantic's own pattern for decimals is unanchored)."""
    pattern = f"^[0-9]{{1,{digits}}}(\\.[0-9]{{1,{places}}})?$"
    compiled = re.compile(pattern, re.ASCII)

    def check(value: Any) -> Any:
        if isinstance(value, str) and compiled.fullmatch(value) is None:
            raise ValueError(
                f"write it as ASCII digits, at most {digits} before the point and {places} after it, "
                f"with no spaces or exponent, such as {example!r}"
            )
        return value

    schema = {
        "anyOf": [
            {"type": "string", "pattern": pattern},
            {"type": "number", "minimum": 0, "exclusiveMaximum": 10**digits},
        ],
        "examples": [example],
    }
    return BeforeValidator(check), WithJsonSchema(schema)


_MONEY_TEXT, _MONEY_SCHEMA = _decimal_text(8, 4, "199.00")
_RATE_TEXT, _RATE_SCHEMA = _decimal_text(3, 6, "0.0625")

# A non-negative amount. Bounded so that any order's totals fit the store's numeric(20, 4) columns.
Money = Annotated[
    Decimal, _MONEY_TEXT, Field(ge=0, max_digits=12, decimal_places=4, allow_inf_nan=False), _MONEY_SCHEMA
]
# A tax rate as a fraction (0.06 for 6 %).
Rate = Annotated[Decimal, _RATE_TEXT, Field(ge=0, lt=1000, max_digits=9, decimal_places=6), _RATE_SCHEMA]

_IP_SCHEMA: Final = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}


def _ip_address(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("is not an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise ValueError("is an IPv6 address with a zone (%...), which names no address on the internet")
    return str(address)  # one spelling per address, so filters find it however it was written


# An IPv4 or IPv6 address, kept in its normal spelling (`2001:DB8:0::1` -> `2001:db8::1`).
IpAddress = Annotated[str, AfterValidator(_ip_address), WithJsonSchema(_IP_SCHEMA)]
