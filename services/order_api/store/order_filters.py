"""An OrderQuery as SQL: the WHERE clause over the orders table's filter columns, and its arguments.

Each of the query's filters is a column of the same name equal to its value, except those below:
lists of values, `<column>_min` / `<column>_max` time bounds, fulfillment statuses (which may ask for
none) and a SKU (one of the order's).
"""

from dataclasses import fields
from typing import Any, Final

from services.order_api.domain.queries import OrderQuery

# Filters that match any of several values: the column each names, and its type.
_ANY_OF: Final = {
    "ids": ("id", "bigint"),
    "statuses": ("status", "text"),
    "financial_statuses": ("financial_status", "text"),
    "states": ("state", "text"),
    "upstream_ids": ("upstream_id", "text"),
}


def where(query: OrderQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    for field in fields(query):
        name, value = field.name, getattr(query, field.name)
        if value is None:
            continue
        if name in _ANY_OF:
            column, cast = _ANY_OF[name]
            if len(value) == 1:  # plain equality lets an index on (column, ..., id) give the page in id order
                add(f"{column} = ?::{cast}", value[0])
            else:
                add(f"{column} = ANY(?::{cast}[])", list(value))
        elif name == "fulfillment_statuses":  # None among them: not fulfilled at all
            unfulfilled = " OR fulfillment_status IS NULL" if None in value else ""
            add(
                f"(fulfillment_status = ANY(?::text[]){unfulfilled})",
                [status for status in value if status is not None],
            )
        elif name == "sku":
            add("skus @> ARRAY[?::text]", value)
        elif name.endswith("_min"):
            add(f"{name.removesuffix('_min')} >= ?", value)
        elif name.endswith("_max"):
            add(f"{name.removesuffix('_max')} <= ?", value)
        else:
            add(f"{name} = ?", value)
    return (" AND ".join(clauses) or "true"), args
