"""Fixtures shared by the test suites."""

import pytest

from deploy.local.stack import ensure_stack


@pytest.fixture(scope="session")
def stack() -> tuple[str, str]:
    """The local stack (or DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), provisioned: (admin DSN, bootstrap)."""
    return ensure_stack()
