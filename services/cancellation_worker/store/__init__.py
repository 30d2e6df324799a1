"""The cancellation worker's SQL (asyncpg), one module per table family; only the service calls it,
and it decides no rule. The package is the `Store` the service's use cases take (service/ports.py)."""

from services.cancellation_worker.store.erasure import erase_order
from services.cancellation_worker.store.ledger import (
    append_entry,
    credit_loyalty,
    ledger_of,
    loyalty_credits,
    orders_with_entries,
)
from services.cancellation_worker.store.notifications import (
    NOTIFICATIONS,
    insert_notification,
    mark_sending,
    mark_sent,
    record_failure,
)
from services.cancellation_worker.store.orders import fetch_order, upsert_order, upsert_orders
from services.cancellation_worker.store.reference import list_companies, list_reasons, upsert_company, upsert_reason
from services.cancellation_worker.store.requests import (
    RequestQuery,
    bank_account_of,
    fetch_request,
    insert_requests,
    list_requests,
    requests_of_order,
    save_request,
)

__all__ = [
    "NOTIFICATIONS",
    "RequestQuery",
    "append_entry",
    "bank_account_of",
    "credit_loyalty",
    "erase_order",
    "fetch_order",
    "fetch_request",
    "insert_notification",
    "insert_requests",
    "ledger_of",
    "list_companies",
    "list_reasons",
    "list_requests",
    "loyalty_credits",
    "mark_sending",
    "mark_sent",
    "orders_with_entries",
    "record_failure",
    "requests_of_order",
    "save_request",
    "upsert_company",
    "upsert_order",
    "upsert_orders",
    "upsert_reason",
]
