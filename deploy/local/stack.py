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
from deploy.provision import provision, provision_topics
from shared.services import (
    LOCAL_ADMIN_DSN,
    LOCAL_KAFKA_BOOTSTRAP,
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


def up() -> tuple[str, str]:
    """Start what is not running, provision everything; the (admin DSN, bootstrap) to use."""
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
            kafka.ensure_running()
            bootstrap = LOCAL_KAFKA_BOOTSTRAP
        else:
            say(f"kafka: using KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
        replication_factor = int(os.environ.get("KAFKA_REPLICATION_FACTOR") or "1")
        run_sync(provision(dsn, bootstrap, replication_factor))
    say(f"ready in {time.monotonic() - started:.1f} s:")
    say(f"  DATABASE_URL={_without_password(dsn)}")
    say(f"  KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    return dsn, bootstrap


def down(purge: bool = False) -> None:
    """Stop the servers this launcher started; with `purge`, delete their data too."""
    with _exclusive():
        say("kafka: stopped" if kafka.stop() else "kafka: was not running")
        say("postgres: stopped" if postgres.stop() else "postgres: was not running")
        if purge:
            for directory in (postgres.DATA_DIR, kafka.KAFKA_DIR):
                shutil.rmtree(directory, ignore_errors=True)
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
        pid = kafka.running_pid()
        where = f"pid {pid}, {LOCAL_KAFKA_BOOTSTRAP}" if pid else "not running"
        kafka_ok = port_open(LOCAL_KAFKA_PORT) and run_sync(kafka.answers())
        say(f"kafka: {where}, {'answers' if kafka_ok else 'does not answer'}")
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
        say("kafka: stopped" if kafka.stop() else "kafka: was not running")


def kafka_kill() -> None:
    """SIGKILL the local broker, as a crash would."""
    _local_kafka_only()
    with _exclusive():
        say("kafka: killed" if kafka.kill() else "kafka: was not running")


def kafka_start() -> None:
    """Start the local broker again; returns when it answers and every topic has its leaders."""
    _local_kafka_only()
    with _exclusive():
        kafka.ensure_running()
        run_sync(provision_topics(LOCAL_KAFKA_BOOTSTRAP))
