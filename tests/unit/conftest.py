"""What the use cases' unit tests share: the store in memory, and the ingest handler on it."""

import pytest

from services.order_api.handlers import fact_applier
from shared.consumer import EventHandler
from tests.support.fake_store import FakeDatabase


@pytest.fixture
def database() -> FakeDatabase:
    """order_api's store in memory (tests/support/fake_store.py)."""
    return FakeDatabase()


@pytest.fixture
def apply(database: FakeDatabase) -> EventHandler:
    """The ingest consumer's handler, applying facts to `database`."""
    return fact_applier(1_000_000, lambda _: database)
