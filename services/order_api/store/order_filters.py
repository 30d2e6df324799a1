"""An OrderQuery as SQL: the WHERE clause over the orders table's filter columns, and its arguments."""

from typing import Any

from services.order_api.domain.queries import OrderQuery


def where(query: OrderQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    for column, values, cast in (
        ("id", query.ids, "bigint"),
        ("status", query.statuses, "text"),
        ("financial_status", query.financial_statuses, "text"),
        ("state", query.states, "text"),
        ("upstream_id", query.upstream_ids, "text"),
    ):
        if values is None:
            continue
        if len(values) == 1:  # plain equality lets an index on (column, ..., id) give the page in id order
            add(f"{column} = ?::{cast}", values[0])
        else:
            add(f"{column} = ANY(?::{cast}[])", list(values))
    if query.fulfillment_statuses is not None:
        named = [status for status in query.fulfillment_statuses if status is not None]
        unfulfilled = None in query.fulfillment_statuses
        args.append(named)
        clauses.append(
            f"(fulfillment_status = ANY(${len(args)}::text[])"
            + (" OR fulfillment_status IS NULL)" if unfulfilled else ")")
        )
    for column, value in (
        ("customer_id", query.customer_id),
        ("checkout_id", query.checkout_id),
        ("application_id", query.application_id),
        ("email", query.email),
        ("currency", query.currency),
        ("fraud_state", query.fraud_state),
        ("browser_ip", query.browser_ip),
        ("charge_type", query.charge_type),
        ("subscription_id", query.subscription_id),
        ("refunded_amount", query.refunded_amount),
        ("locale", query.locale),
        ("customer_type", query.customer_type),
    ):
        if value is not None:
            add(f"{column} = ?", value)
    if query.sku is not None:
        add("skus @> ARRAY[?::text]", query.sku)
    for column, low, high in (
        ("created_at", query.created_at_min, query.created_at_max),
        ("updated_at", query.updated_at_min, query.updated_at_max),
        ("processed_at", query.processed_at_min, query.processed_at_max),
    ):
        if low is not None:
            add(f"{column} >= ?", low)
        if high is not None:
            add(f"{column} <= ?", high)
    return (" AND ".join(clauses) or "true"), args
