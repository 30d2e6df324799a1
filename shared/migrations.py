"""Numbered SQL migrations per service, applied in order under an advisory lock.

Every service first gets the kernel migrations (`shared/sql/`: outbox, processed events), then its
own (`services/<name>/migrations/`). Each file runs in its own transaction and is recorded in
`<schema>.schema_migrations` with its checksum, so an edited, already applied file is refused instead
of silently diverging between environments.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from shared.db import Connection

KERNEL_DIR: Final = Path(__file__).resolve().parent / "sql"
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration set is malformed, or an applied file was changed afterwards."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str  # "kernel/0001_outbox.sql" or "0001_orders.sql": unique within a schema
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(service_dir: Path) -> list[Migration]:
    """The kernel migrations, then the service's, each set in file-number order."""
    found: list[Migration] = []
    for directory, prefix in ((KERNEL_DIR, "kernel/"), (service_dir, "")):
        numbers: set[str] = set()
        for path in sorted(directory.glob("*.sql")):
            match = _FILE_NAME.match(path.name)
            if match is None:
                raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
            if match.group(1) in numbers:
                raise MigrationError(f"{path}: two migrations share the number {match.group(1)}")
            numbers.add(match.group(1))
            found.append(Migration(prefix + path.name, path.read_text()))
    return found


def _lock_key(schema: str) -> int:
    """A stable 63-bit advisory-lock key per schema."""
    return int.from_bytes(hashlib.sha256(f"migrations:{schema}".encode()).digest()[:8], "big") >> 1


async def apply_migrations(conn: Connection, schema: str, service_dir: Path) -> list[str]:
    """Apply the pending migrations of one service to `schema`; return the names applied.

    Safe to call from many instances at once: they queue on the advisory lock, and the later ones
    find nothing left to do.
    """
    migrations = load_migrations(service_dir)
    await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            row["name"]: row["checksum"] for row in await conn.fetch("SELECT name, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in migrations:
            if migration.name in applied:
                if applied[migration.name] != migration.checksum:
                    raise MigrationError(
                        f"{schema}: {migration.name} was changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    migration.name,
                    migration.checksum,
                )
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
        await conn.execute("RESET search_path")
