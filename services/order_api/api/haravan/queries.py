"""The Haravan list's parameters as the document writes them (times, ids, statuses, `fields`), and the
query they ask for."""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Query

from services.order_api.api.haravan.responses import ORDER_FIELDS
from services.order_api.domain.queries import OrderQuery
from shared.fields import MAX_BIGINT
from shared.problems import invalid_field

_TIME = re.compile(
    r"""^(?P<date>\d{4}-\d{2}-\d{2})
        (?:[T\ ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?
        (?:\ ?(?P<zone>[A-Za-z]{1,5}))?
        (?:\ ?(?P<offset>Z|[+\-\ ]\d{2}:?\d{2}))?$""",
    re.VERBOSE | re.ASCII,
)
_UTC_NAMES: Final = frozenset({"Z", "UTC", "GMT"})


def parse_time(field: str, value: str) -> datetime:
    """A filter time: ISO 8601 with or without an offset, `2008-12-31 03:00`, or the document's
    `2005-07-31 15:57:11 EDT -04:00` (the offset counts, the zone name is decoration). Without an
    offset the time is UTC. A `+` that arrived as a space (unencoded in the URL) is read as `+`."""
    match = _TIME.match(value.strip())
    if match is None:
        raise invalid_field(field, f"{value!r} is not a time such as 2008-12-31 03:00 or 2008-12-31T03:00:00-04:00")
    zone, offset = match["zone"], match["offset"]
    if zone is not None and offset is None and zone.upper() not in _UTC_NAMES:
        raise invalid_field(field, f"give the UTC offset with the zone name, e.g. '{zone} -04:00'")
    if offset is None or offset == "Z":
        offset = "+00:00"
    elif offset[0] == " ":
        offset = "+" + offset[1:]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time'] or '00:00'}{offset}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise invalid_field(field, f"{value!r} is not a valid time ({error})") from None


def _time(field: str, value: str | None) -> datetime | None:
    return None if value is None else parse_time(field, value)


def _ids(value: str) -> list[int]:
    parts = [part.strip() for part in value.split(",")]
    if not all(part.isascii() and part.isdigit() and len(part) <= 19 and 0 < int(part) <= MAX_BIGINT for part in parts):
        raise invalid_field("ids", "must be order ids (positive integers) separated by commas")
    if len(parts) > 250:
        raise invalid_field("ids", "at most 250 ids at a time")
    return [int(part) for part in parts]


def fields_named(value: str | None) -> set[str] | None:
    """`fields` as key names; the document's example writes `total-price`, so dashes count as underscores."""
    if value is None:
        return None
    names = {name.strip().replace("-", "_") for name in value.split(",") if name.strip()}
    unknown = sorted(names - ORDER_FIELDS)
    if unknown or not names:
        raise invalid_field(
            "fields", f"unknown field(s) {', '.join(unknown) or '(none given)'}; use order keys such as id,name"
        )
    return names


FinancialFilter = Literal[
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "partiallyrefunded",
    "refunded",
    "voided",
    "any",
]
FulfillmentFilter = Literal["null", "not_fulfilled", "unshipped", "partial", "fulfilled", "shipped", "restocked", "any"]
_FULFILLMENT: Final[Mapping[str, list[str | None]]] = {
    "null": [None],
    "not_fulfilled": [None],
    "unshipped": [None],
    "partial": ["partial"],
    "fulfilled": ["fulfilled"],
    "shipped": ["fulfilled"],
    "restocked": ["restocked"],
}

# The query patterns are documented, not enforced by FastAPI, so a bad value gets the clearer message
# of the parsers above.
_TIME_PATTERN: Final = {
    "pattern": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
    r" ?([A-Za-z]{1,5})? ?(Z|[+\- ][0-9]{2}:?[0-9]{2})?\s*$"
}
_FIELD_NAME: Final = "(" + "|".join(sorted(name.replace("_", "[_-]") for name in ORDER_FIELDS)) + ")"
_FIELDS_PATTERN: Final = rf"^\s*{_FIELD_NAME}(\s*,\s*{_FIELD_NAME})*\s*,?\s*$"
_TIME_DOC: Final = (
    " (ISO 8601, e.g. 2008-12-31T03:00:00-04:00, or the document's `2008-12-31 03:00`, which is taken "
    "as UTC, or `2005-07-31 15:57:11 EDT -04:00`)"
)


def _time_query(description: str) -> Any:
    return Query(None, max_length=64, description=description + _TIME_DOC, json_schema_extra=_TIME_PATTERN)


async def order_filters(
    *,
    status: Annotated[
        Literal["open", "closed", "cancelled", "any"], Query(description="open (the default), closed, cancelled or any")
    ] = "open",
    ids: Annotated[
        str | None,
        Query(
            max_length=5000,
            description="Comma-separated order ids, at most 250",
            examples=["1073459968"],
            json_schema_extra={"pattern": r"^\s*[1-9][0-9]{0,17}(\s*,\s*[1-9][0-9]{0,17})*\s*$"},
        ),
    ] = None,
    created_at_min: str | None = _time_query("Orders created at or after"),
    created_at_max: str | None = _time_query("Orders created at or before"),
    updated_at_min: str | None = _time_query("Orders last updated at or after"),
    updated_at_max: str | None = _time_query("Orders last updated at or before"),
    processed_at_min: str | None = _time_query("Orders processed (imported) at or after"),
    processed_at_max: str | None = _time_query("Orders processed (imported) at or before"),
    financial_status: Annotated[
        FinancialFilter, Query(description="The payment status; `partiallyrefunded` is `partially_refunded`")
    ] = "any",
    fulfillment_status: Annotated[
        FulfillmentFilter,
        Query(description="`null`/`not_fulfilled`/`unshipped`: nothing fulfilled; `shipped` is `fulfilled`"),
    ] = "any",
) -> OrderQuery:
    financial = "partially_refunded" if financial_status == "partiallyrefunded" else financial_status
    return OrderQuery(
        ids=_ids(ids) if ids is not None else None,
        statuses=None if status == "any" else [status],
        financial_statuses=None if financial == "any" else [financial],
        fulfillment_statuses=_FULFILLMENT.get(fulfillment_status),
        created_at_min=_time("created_at_min", created_at_min),
        created_at_max=_time("created_at_max", created_at_max),
        updated_at_min=_time("updated_at_min", updated_at_min),
        updated_at_max=_time("updated_at_max", updated_at_max),
        processed_at_min=_time("processed_at_min", processed_at_min),
        processed_at_max=_time("processed_at_max", processed_at_max),
    )


Filters = Annotated[OrderQuery, Depends(order_filters)]
FieldsParam = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="Comma-separated keys to include, e.g. `id,name,total_price` (`total-price` works too)",
        json_schema_extra={"pattern": _FIELDS_PATTERN},
    ),
]
