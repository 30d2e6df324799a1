"""Scratch schemas on the real stack, so a piece that owns tables is tested on tables of its own."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from shared.db import create_pool
from shared.migrations import apply_migrations


@contextlib.asynccontextmanager
async def scratch_schema(admin_dsn: str, migrations_dir: Path) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh schema with the kernel tables and the migrations in `migrations_dir`;
    the schema is dropped afterwards."""
    schema = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    await apply_migrations(admin, schema, migrations_dir)
    pool = await create_pool(admin_dsn, schema)
    try:
        yield pool
    finally:
        await pool.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
