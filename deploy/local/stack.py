"""The local stack as a whole: bring it up, take it down, report on it; the API the tests use.

DATABASE_URL or KAFKA_BOOTSTRAP_SERVERS, when set, point at servers someone else runs: the launcher
then starts no server of that kind and only provisions it.
"""

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from deploy.local import kafka, postgres
from deploy.local.base import STATE_DIR, StackError, port_open, run_sync, say
from deploy.local.quorum import quorum_leader
from deploy.provision import provision, provision_topics
from shared.services import (
    LOCAL_ADMIN_DSN,
    LOCAL_KAFKA_PORT,
    LOCAL_PG_PORT,
    SERVICES,
    ServiceSpec,
)
from shared.settings import ServiceSettings


@contextmanager
def _exclusive() -> Iterator[None]:
    """One launcher at a time changes the stack (parallel test sessions, `./dev run` and a test run)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / "stack.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _external_dsn() -> str | None:
    return os.environ.get("DATABASE_URL") or None


def _external_bootstrap() -> str | None:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


def _without_password(dsn: str) -> str:
    """`dsn` fit to print: an external DATABASE_URL's password must not land in terminals or CI logs."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def _other_running(cluster: kafka.KafkaCluster) -> None:
    """Refuse to start `cluster` while a local Kafka of another size holds its ports."""
    for brokers in kafka.BROKER_COUNTS:
        if brokers != cluster.brokers and kafka.local(brokers).running_pids():
            raise StackError(
                f"a local Kafka of {brokers} broker(s) runs on {kafka.local(brokers).bootstrap}; "
                f"`./dev down` first, or `./dev up --brokers {brokers}`"
            )


def up(brokers: int | None = None) -> tuple[str, str]:
    """Start what is not running, provision everything; the (admin DSN, bootstrap) to use. The local
    Kafka has `brokers` nodes, remembered for later commands (default: `kafka.local`'s)."""
    started = time.monotonic()
    with _exclusive():
        dsn = _external_dsn()
        if dsn is None:
            postgres.ensure_running()
            dsn = LOCAL_ADMIN_DSN
        else:
            say("postgres: using DATABASE_URL")
        bootstrap = _external_bootstrap()
        if bootstrap is None:
            cluster = kafka.local(brokers)
            _other_running(cluster)
            cluster.ensure_running()
            if brokers is not None:
                kafka.remember(cluster)
            bootstrap = cluster.bootstrap
        else:
            say(f"kafka: using KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
        run_sync(provision(dsn, bootstrap))
    say(f"ready in {time.monotonic() - started:.1f} s:")
    say(f"  DATABASE_URL={_without_password(dsn)}")
    say(f"  KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    return dsn, bootstrap


def down(purge: bool = False) -> None:
    """Stop the servers this launcher started; with `purge`, delete their data too."""
    with _exclusive():
        clusters = [kafka.local(brokers) for brokers in kafka.BROKER_COUNTS]
        say("kafka: stopped" if any([cluster.stop() for cluster in clusters]) else "kafka: was not running")
        say("postgres: stopped" if postgres.stop() else "postgres: was not running")
        if purge:
            for directory in (postgres.DATA_DIR, *(cluster.directory for cluster in clusters)):
                shutil.rmtree(directory, ignore_errors=True)
            kafka.BROKERS_FILE.unlink(missing_ok=True)
            say("purged the Postgres and Kafka data")


def status() -> bool:
    """Print what runs and answers; whether Postgres and Kafka both answer."""
    dsn, bootstrap = _external_dsn(), _external_bootstrap()
    if dsn is None:
        pid = postgres.running_pid()
        where = f"pid {pid}, 127.0.0.1:{LOCAL_PG_PORT}" if pid else "not running"
        pg_ok = run_sync(postgres.reachable())
        say(f"postgres: {where}, {'answers' if pg_ok else 'does not answer'}")
    else:
        pg_ok = True  # someone else's server: not ours to check
        say("postgres: external (DATABASE_URL)")
    if bootstrap is None:
        cluster = kafka.local()
        pids = cluster.running_pids()
        where = f"pids {', '.join(map(str, pids.values()))}, {cluster.bootstrap}" if pids else "not running"
        kafka_ok = port_open(LOCAL_KAFKA_PORT) and run_sync(cluster.answers())
        say(f"kafka: {where}, {'answers' if kafka_ok else 'does not answer'}")
        if kafka_ok and cluster.brokers > 1:
            say(f"kafka: node {run_sync(quorum_leader(cluster.bootstrap))} is the active controller")
    else:
        kafka_ok = True
        say(f"kafka: external ({bootstrap})")
    for spec in SERVICES:
        settings = ServiceSettings.load(spec)
        listening = port_open(settings.http_port, settings.http_host)
        say(f"{spec.name}: {'listening on' if listening else 'nothing on'} {service_url(spec)}")
    return pg_ok and kafka_ok


def service_url(spec: ServiceSpec) -> str:
    """Where a service listens, by its settings (`<PREFIX>HTTP_HOST`/`_PORT`, else the defaults)."""
    settings = ServiceSettings.load(spec)
    return f"http://{settings.http_host}:{settings.http_port}"


def ensure_stack() -> tuple[str, str]:
    """The stack, up and provisioned: (admin DSN, Kafka bootstrap). Cheap when it already runs."""
    return up()


def _local_kafka_only() -> None:
    if _external_bootstrap() is not None:
        raise StackError("KAFKA_BOOTSTRAP_SERVERS points at a broker this launcher does not run")


def _local_postgres_only() -> None:
    if _external_dsn() is not None:
        raise StackError("DATABASE_URL points at a server this launcher does not run")


def postgres_crash() -> None:
    """Stop the local Postgres as a crash would (`pg_ctl stop -m immediate`), keeping its data."""
    _local_postgres_only()
    with _exclusive():
        say("postgres: stopped (immediate)" if postgres.stop("immediate") else "postgres: was not running")


def postgres_start() -> None:
    """Start the local Postgres again; returns when it accepts connections."""
    _local_postgres_only()
    with _exclusive():
        postgres.ensure_running()


def kafka_stop() -> None:
    """Stop the local broker cleanly, keeping its data (a Kafka outage, for tests)."""
    _local_kafka_only()
    with _exclusive():
        say("kafka: stopped" if kafka.local().stop() else "kafka: was not running")


def kafka_kill() -> None:
    """SIGKILL the local broker, as a crash would."""
    _local_kafka_only()
    with _exclusive():
        say("kafka: killed" if kafka.local().kill() else "kafka: was not running")


def kafka_start() -> None:
    """Start the local broker again; returns when it answers and every topic has its leaders."""
    _local_kafka_only()
    with _exclusive():
        cluster = kafka.local()
        cluster.ensure_running()
        run_sync(provision_topics(cluster.bootstrap))
