"""The cancellation worker's operator API (scope `cancellations:admin`): requests, the ledger,
reference data."""

from services.cancellation_worker.api import ledger, reference, requests

ROUTERS = (requests.router, ledger.router, reference.router)
