"""Fixtures shared by the test suites."""

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from deploy.local.stack import ensure_stack
from tests.support.container_stack import container_stack

STACKS = ("local", "containers")


@pytest.fixture(scope="session")
def stack() -> Iterator[tuple[str, str]]:
    """The local stack (or DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), provisioned: (admin DSN, bootstrap).
    With TEST_STACK=containers, Postgres and Kafka run as containers instead (testcontainers)."""
    chosen = os.environ.get("TEST_STACK") or "local"
    if chosen not in STACKS:
        raise pytest.UsageError(f"TEST_STACK={chosen!r}: expected one of {', '.join(STACKS)}")
    if chosen == "containers":
        with container_stack() as servers:
            yield servers
    else:
        yield ensure_stack()


@pytest.fixture
async def admin_db(stack: tuple[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection, to look into every service's schema."""
    conn = await asyncpg.connect(stack[0])
    try:
        yield conn
    finally:
        await conn.close()
