"""The local stack and its provisioning, against the real Postgres and Kafka.

Provisioning must be repeatable (every `up` and every test session runs it), and the schema-per-service
promise must be enforced by Postgres itself: each role reads its own schema and is refused the others.
"""

import itertools
import time

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.stack import ensure_stack
from shared.dsn import service_dsn
from shared.migrations import apply_migrations
from shared.services import SERVICES, ServiceSpec
from shared.topics import ALL_TOPICS, PARTITIONS

OTHER_PAIRS = list(itertools.permutations(SERVICES, 2))


def _name(spec: ServiceSpec) -> str:
    return spec.name


async def _migration_counts(admin_dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        return {
            spec.schema: await conn.fetchval(f"SELECT count(*) FROM {spec.schema}.schema_migrations")
            for spec in SERVICES
        }
    finally:
        await conn.close()


async def test_ensure_stack_again_is_harmless_and_fast(stack: tuple[str, str]) -> None:
    before = await _migration_counts(stack[0])
    started = time.monotonic()
    assert ensure_stack() == stack
    assert time.monotonic() - started < 5, "a running stack is only re-provisioned"
    assert await _migration_counts(stack[0]) == before


@pytest.mark.parametrize("spec", SERVICES, ids=_name)
async def test_role_owns_its_schema(stack: tuple[str, str], spec: ServiceSpec) -> None:
    conn = await asyncpg.connect(service_dsn(spec, stack[0]))
    try:
        assert await conn.fetchval("SHOW search_path") == spec.schema
        assert await conn.fetchval(f"SELECT count(*) FROM {spec.schema}.schema_migrations") > 0
        owners = await conn.fetch("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", spec.schema)
        assert [row["tableowner"] for row in owners] == [spec.role], "tables are created by the role"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.stray (id int)")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("own", "other"), OTHER_PAIRS, ids=[f"{own.name}-not-{other.name}" for own, other in OTHER_PAIRS]
)
async def test_role_is_refused_other_schemas(stack: tuple[str, str], own: ServiceSpec, other: ServiceSpec) -> None:
    conn = await asyncpg.connect(service_dsn(own, stack[0]))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval(f"SELECT count(*) FROM {other.schema}.schema_migrations")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"CREATE TABLE {other.schema}.stray (id int)")
    finally:
        await conn.close()


async def test_every_topic_has_all_partitions_with_leaders(stack: tuple[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack[1])
    await admin.start()
    try:
        topics = {topic["topic"]: topic for topic in await admin.describe_topics(list(ALL_TOPICS))}
    finally:
        await admin.close()
    assert sorted(topics) == sorted(ALL_TOPICS)
    for name, topic in topics.items():
        assert topic["error_code"] == 0, name
        assert len(topic["partitions"]) == PARTITIONS, name
        assert all(partition["leader"] >= 0 for partition in topic["partitions"]), name


@pytest.mark.parametrize("spec", SERVICES, ids=_name)
async def test_migrations_apply_once(stack: tuple[str, str], spec: ServiceSpec) -> None:
    conn = await asyncpg.connect(service_dsn(spec, stack[0]))
    try:
        assert await apply_migrations(conn, spec.schema, spec.migrations_dir) == []
    finally:
        await conn.close()
