"""The anonymizer's SQL (asyncpg): its copy of orders and audit log (orders.py), the erasure saga's
records, receipts and requests (erasures.py). Only the service calls it, and it decides no rule; the
package is the `Store` the use cases take (service/ports.py)."""

from services.anonymizer.store.erasures import (
    due_erasures,
    ensure_order_request,
    fetch_erasure,
    insert_receipt,
    open_erasure,
    receipts_of,
    refresh_requests,
    save_erasure,
)
from services.anonymizer.store.orders import forget_order, record_order

__all__ = [
    "due_erasures",
    "ensure_order_request",
    "fetch_erasure",
    "forget_order",
    "insert_receipt",
    "open_erasure",
    "receipts_of",
    "record_order",
    "refresh_requests",
    "save_erasure",
]
