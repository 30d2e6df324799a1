"""Field types every service's models can share: what Postgres and HTTP can actually carry, refused as
bad input (422 naming the field) before it reaches the store or the wire, and empty defaults made per
instance (the event contracts' as well as the requests')."""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, Field

# Postgres bigint: ids and numbers beyond it can name no row, and asyncpg refuses to send them.
MAX_BIGINT: Final = 2**63 - 1


def storable(value: str) -> str:
    """`value` if Postgres text can hold it; otherwise ValueError saying which character cannot be."""
    # Postgres text holds neither NUL nor (as UTF-8) a lone surrogate.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate, which cannot be stored") from None
    if "\x00" in value:
        raise ValueError("contains a NUL character, which cannot be stored")
    return value


def make_storable(text: str) -> str:
    """`text` with what Postgres text cannot hold replaced: for text we record rather than judge
    (an error message, a subscriber's answer)."""
    return text.encode("utf-8", "replace").decode().replace("\x00", "\ufffd")


StorableText = Annotated[str, AfterValidator(storable), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
BigintId = Annotated[int, Ge(1), Le(MAX_BIGINT)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is still year 0 in UTC
        raise ValueError("is outside the years 1 to 9999 in UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A time with a UTC offset, converted to UTC (so it fits every store and comparison)."""

# RFC 9110 field-value as HTTP/1.1 clients send it (h11 enforces this, httpx encodes values as
# ASCII): visible ASCII, inner spaces and tabs, no leading or trailing whitespace.
HEADER_VALUE_PATTERN: Final = "^([!-~]+([ \t]+[!-~]+)*)?$"
_HEADER_VALUE: Final = re.compile(HEADER_VALUE_PATTERN)


def is_header_value(value: str) -> bool:
    """Whether an HTTP client can send `value` as a header value."""
    return _HEADER_VALUE.fullmatch(value) is not None


def _header_value(value: str) -> str:
    if not is_header_value(value):
        raise ValueError("must be printable ASCII without leading or trailing spaces (an HTTP header value)")
    return value


HeaderValue = Annotated[str, AfterValidator(_header_value), Field(json_schema_extra={"pattern": HEADER_VALUE_PATTERN})]


def empty(factory: Callable[[], list[Any] | dict[str, Any]] = list, *, max_length: int | None = None) -> Any:
    """A list (or, with `dict`, a mapping) field that is empty when not given (at most `max_length`
    items), documented with that empty default. Made anew each time: pydantic deep-copies a `[]` or
    `{}` default every time it fills one in (eight in a small order create)."""
    return Field(default_factory=factory, max_length=max_length, json_schema_extra={"default": factory()})
