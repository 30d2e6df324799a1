"""Fixtures shared by the test suites."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from deploy.local.stack import ensure_stack


@pytest.fixture(scope="session")
def stack() -> tuple[str, str]:
    """The local stack (or DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), provisioned: (admin DSN, bootstrap)."""
    return ensure_stack()


@pytest.fixture
async def admin_db(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection, to look into every service's schema."""
    conn = await asyncpg.connect(stack[0])
    try:
        yield conn
    finally:
        await conn.close()
