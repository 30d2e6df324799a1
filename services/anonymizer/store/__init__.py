"""The anonymizer's SQL (asyncpg): its copy of orders and audit log (orders.py), the erasure saga's
records and receipts (erasures.py), the requests they answer (requests.py) with the customer records
they asked for (request_customers.py), and the orders retention takes (retention.py). Only the service
calls it, and it decides no rule; the package is the `Store` the use cases take (service/ports.py)."""

from services.anonymizer.store.erasures import (
    due_erasures,
    fetch_erasure,
    insert_receipt,
    open_erasure,
    receipts_of,
    save_erasure,
    wait_for,
)
from services.anonymizer.store.orders import forget_order, record_order, record_orders
from services.anonymizer.store.request_customers import customer_erased, insert_request_customers, request_customers
from services.anonymizer.store.requests import (
    customers_of_person,
    ensure_order_request,
    fetch_request,
    insert_request,
    list_requests,
    orders_of_person,
    refresh_request,
    refresh_requests,
    request_erasures,
    request_receipts,
)
from services.anonymizer.store.retention import count_retention_due, lock_retention_sweep, retention_due

__all__ = [
    "count_retention_due",
    "customer_erased",
    "customers_of_person",
    "due_erasures",
    "ensure_order_request",
    "fetch_erasure",
    "fetch_request",
    "forget_order",
    "insert_receipt",
    "insert_request",
    "insert_request_customers",
    "list_requests",
    "lock_retention_sweep",
    "open_erasure",
    "orders_of_person",
    "receipts_of",
    "record_order",
    "record_orders",
    "refresh_request",
    "refresh_requests",
    "request_customers",
    "request_erasures",
    "request_receipts",
    "retention_due",
    "save_erasure",
    "wait_for",
]
