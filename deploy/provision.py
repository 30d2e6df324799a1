"""Provision the platform's database roles, schemas, migrations and Kafka topics; safe to rerun.

`python -m deploy.provision` is the one-shot job of docker-compose and the last step of the local
stack's `up`. It needs an administrative DSN (a role that may create roles and schemas, on a
database that exists) and a Kafka bootstrap address:

    DATABASE_URL               admin DSN (default: the local stack's superuser)
    KAFKA_BOOTSTRAP_SERVERS    default: the local stack's broker
    KAFKA_REPLICATION_FACTOR   default: the number of brokers, at most 3; topics then take
                               `min.insync.replicas` 2 from 3 replicas up, else 1
    KAFKA_PERSONAL_DATA_RETENTION_HOURS
                               how long the topics that carry personal data keep an event (whole
                               hours, 1 to 8760; default 168, 7 days): the event log's erasure window
"""

import asyncio
import hashlib
import os
import sys
import time
from datetime import timedelta
from typing import Any, Final

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from deploy.dlq import replays
from shared.dsn import admin_dsn, service_dsn, service_password
from shared.migrations import apply_migrations
from shared.services import LOCAL_KAFKA_BOOTSTRAP, SERVICES, ServiceSpec
from shared.topics import (
    ALL_TOPICS,
    DEFAULT_PERSONAL_DATA_RETENTION,
    MAX_REPLICATION_FACTOR,
    PARTITIONS,
    topic_configs,
)

# Topic metadata can lag creation by a moment; a broker that takes longer than this is unhealthy.
TOPICS_READY_TIMEOUT_S: Final = 60.0
PERSONAL_DATA_RETENTION_VARIABLE: Final = "KAFKA_PERSONAL_DATA_RETENTION_HOURS"
REPLICATION_FACTOR_VARIABLE: Final = "KAFKA_REPLICATION_FACTOR"
# At most a year: the bound is what the README promises the people in the data.
MAX_PERSONAL_DATA_RETENTION_HOURS: Final = 365 * 24
# Serialises concurrent provisioning runs (several test sessions, a compose job and a launcher).
_LOCK_KEY: Final = int.from_bytes(hashlib.sha256(b"deploy.provision").digest()[:8], "big") >> 1


class ProvisionError(RuntimeError):
    """The database or the Kafka cluster is not in a state provisioning can fix."""


def _say(message: str) -> None:
    print(f"provision: {message}", flush=True)


def _ident(name: str) -> str:
    """A quoted SQL identifier; the names come from our own service table, this is belt and braces."""
    return '"' + name.replace('"', '""') + '"'


async def _ensure_role(conn: asyncpg.Connection, spec: ServiceSpec, superuser: bool) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", spec.role)
    verb = "ALTER" if exists else "CREATE"
    # DDL takes no bind parameters; format() quotes the password as a literal on the server side.
    statement = await conn.fetchval(
        f"SELECT format('{verb} ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
        spec.role,
        service_password(spec),
    )
    await conn.execute(statement)
    if not superuser:
        # A non-superuser admin (managed Postgres) must be a member of a role to give it a schema.
        await conn.execute(f"GRANT {_ident(spec.role)} TO CURRENT_USER")


async def provision_database(dsn: str) -> None:
    """Roles and schemas (each role can use only its own schema), then each service's migrations."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        database = await conn.fetchval("SELECT current_database()")
        superuser = await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        # Nobody creates objects in `public`: every table lives in its owner's schema.
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for spec in SERVICES:
            role, schema = _ident(spec.role), _ident(spec.schema)
            await _ensure_role(conn, spec, superuser)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
            await conn.execute(f"ALTER ROLE {role} SET search_path = {schema}")
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {role}")
        # The operators' own records (python -m deploy.dlq): no service's role may use them.
        await replays.create_table(conn)
    finally:
        await conn.close()  # also releases the session's advisory lock

    for spec in SERVICES:
        # Logged in as the service's role, so the tables it creates are its own.
        service_conn = await asyncpg.connect(service_dsn(spec, dsn))
        try:
            applied = await apply_migrations(service_conn, spec.schema, spec.migrations_dir)
        finally:
            await service_conn.close()
        _say(f"schema {spec.schema}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


def personal_data_retention() -> timedelta:
    """How long the topics that carry personal data keep an event: KAFKA_PERSONAL_DATA_RETENTION_HOURS,
    else 7 days; ProvisionError, naming the variable, for anything but a whole number of hours in range."""
    value = os.environ.get(PERSONAL_DATA_RETENTION_VARIABLE, "").strip()
    if not value:
        return DEFAULT_PERSONAL_DATA_RETENTION
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_PERSONAL_DATA_RETENTION_HOURS):
        raise ProvisionError(
            f"{PERSONAL_DATA_RETENTION_VARIABLE} must be a whole number of hours from 1 to "
            f"{MAX_PERSONAL_DATA_RETENTION_HOURS}, such as 168 for 7 days; got {value[:40]!r}"
        )
    return timedelta(hours=int(value))


def replication_factor(brokers: int) -> int:
    """How many brokers hold each partition: KAFKA_REPLICATION_FACTOR, else as many as there are
    brokers, at most 3; ProvisionError, naming the variable, for anything but a count the cluster has."""
    value = os.environ.get(REPLICATION_FACTOR_VARIABLE, "").strip()
    if not value:
        return min(brokers, MAX_REPLICATION_FACTOR)
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= brokers):
        raise ProvisionError(
            f"{REPLICATION_FACTOR_VARIABLE} must be a whole number from 1 to the cluster's {brokers} brokers; "
            f"got {value[:40]!r}"
        )
    return int(value)


def _topic_problem(topic: dict[str, Any]) -> str | None:
    """Why a topic's metadata does not (yet) show a usable topic, or None."""
    if topic["error_code"]:
        return str(for_code(topic["error_code"]).__name__)
    partitions = topic["partitions"]
    if len(partitions) != PARTITIONS:
        # Not repaired here: adding partitions moves keys to other partitions and breaks per-order
        # ordering, so an operator decides.
        raise ProvisionError(f"topic {topic['topic']}: {len(partitions)} partitions, expected {PARTITIONS}")
    leaderless = sum(1 for partition in partitions if partition["leader"] < 0)
    return f"{leaderless} partitions without a leader" if leaderless else None


def _replicas_held(topic: dict[str, Any], default: int) -> int:
    """How many replicas an existing topic's partitions have; its `min.insync.replicas` follows that
    count, not the brokers up at the moment (one may be restarting). A count other than the one
    KAFKA_REPLICATION_FACTOR asks for is refused: reassigning replicas is an operator's move."""
    counts = {len(partition["replicas"]) for partition in topic["partitions"]} or {default}
    asked = os.environ.get(REPLICATION_FACTOR_VARIABLE, "").strip()
    if len(counts) > 1 or (asked and counts != {default}):
        raise ProvisionError(
            f"topic {topic['topic']}: partitions with {sorted(counts)} replicas"
            + (f", {REPLICATION_FACTOR_VARIABLE} asks for {default}" if asked else "")
            + "; reassign them (kafka-reassign-partitions)"
        )
    return counts.pop()


async def provision_topics(bootstrap: str) -> None:
    """Create every topic with `replication_factor()` replicas, give existing ones the configs of this
    version (partitions and replicas are left as they are), and wait until all have leaders. The topics
    that carry personal data keep an event for `personal_data_retention()`, existing ones included."""
    retention = personal_data_retention()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="deploy.provision")
    await admin.start()
    try:
        replicas = replication_factor(len((await admin.describe_cluster())["brokers"]))
        response = await admin.create_topics(
            [
                NewTopic(name, PARTITIONS, replicas, topic_configs=topic_configs(name, retention, replicas))
                for name in ALL_TOPICS
            ]
        )
        created = []
        for topic, code, *rest in response.topic_errors:
            error = for_code(code) if code else None
            if error is None:
                created.append(topic)
            elif error is not TopicAlreadyExistsError:
                raise ProvisionError(f"creating topic {topic}: {error.__name__} {rest[0] if rest else ''}")
        if created:
            _say(f"topics: created {', '.join(created)} ({replicas} replicas each)")
        else:
            _say("topics: all exist")
        if existing := [name for name in ALL_TOPICS if name not in created]:
            held = {topic["topic"]: _replicas_held(topic, replicas) for topic in await admin.describe_topics(existing)}
            await _align_configs(admin, {name: topic_configs(name, retention, held[name]) for name in existing})

        deadline = time.monotonic() + TOPICS_READY_TIMEOUT_S
        while True:
            problems = {
                topic["topic"]: problem
                for topic in await admin.describe_topics(list(ALL_TOPICS))
                if (problem := _topic_problem(topic)) is not None
            }
            if not problems:
                return
            if time.monotonic() > deadline:
                raise ProvisionError(f"topics not ready after {TOPICS_READY_TIMEOUT_S:.0f} s: {problems}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _align_configs(admin: AIOKafkaAdminClient, configs: dict[str, dict[str, str]]) -> None:
    """Set each existing topic's configs to this version's (a topic made by an older one may lack a
    limit this one relies on, such as a dead-letter topic's larger `max.message.bytes`, or keep personal
    data longer than the retention set now). AlterConfigs replaces a topic's whole set: a config set
    by hand and not named here (compaction, say) goes back to the broker's default."""
    if not configs:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, topic, wanted) for topic, wanted in configs.items()]
    for response in await admin.alter_configs(resources):
        for code, message, _, name in response.resources:
            if code:
                raise ProvisionError(f"configuring topic {name}: {for_code(code).__name__} {message or ''}")


async def provision(admin_dsn: str, bootstrap: str) -> None:
    """Provision the database, then the topics."""
    await provision_database(admin_dsn)
    await provision_topics(bootstrap)


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or LOCAL_KAFKA_BOOTSTRAP
    try:
        asyncio.run(provision(admin_dsn(), bootstrap))
    except (ProvisionError, KafkaError, OSError, asyncpg.PostgresError) as error:
        print(f"provision failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
