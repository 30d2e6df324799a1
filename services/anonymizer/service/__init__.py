"""The anonymizer's use cases, and the only way to its tables: its copy of orders (orders.py) and the
erasure saga (erasures.py). Each runs in the consumer's transaction or opens its own, applies the
domain, calls the store and writes the outbox; what it needs from outside is a Protocol (ports.py)."""

from services.anonymizer import store as postgres_store
from services.anonymizer.service.ports import Database, Ports
from services.anonymizer.settings import AnonymizerSettings
from shared import outbox as postgres_outbox


def postgres_ports(pool: Database, settings: AnonymizerSettings) -> Ports:
    """The use cases' ports on the service's pool, its tables and the transactional outbox."""
    return Ports(pool, settings, postgres_store, postgres_outbox)
