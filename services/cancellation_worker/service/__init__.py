"""The cancellation worker's use cases, and the only way to its tables: guest requests (requests.py),
the refund ledger (refunds.py), reference data (reference.py), sending emails (mail.py), an anonymized
order's erasure (erasure.py). Each opens its transaction (or runs in the consumer's), applies the
domain, calls the store and writes the outbox; what it needs from outside is a Protocol (ports.py)."""

from services.cancellation_worker import store as postgres_store
from services.cancellation_worker.service.ports import Database, Ports
from services.cancellation_worker.settings import CancellationSettings
from shared import outbox as postgres_outbox


def postgres_ports(pool: Database, settings: CancellationSettings) -> Ports:
    """The use cases' ports on the service's pool, its tables and the transactional outbox."""
    return Ports(pool, settings, postgres_store, postgres_outbox)
