"""Postgres and Kafka as containers (testcontainers), from the images docker-compose.yml names, for
TEST_STACK=containers: the tests then need a Docker-compatible engine (DOCKER_HOST; podman's API
socket will do) instead of the local processes. The servers are configured as the compose file
configures them; only Kafka's listener for clients outside the engine points at a port of the host.
"""

import os
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Final

import yaml
from testcontainers.core.container import DockerContainer

from deploy.containers.images import COMPOSE_FILE, qualified
from deploy.local import kafka
from deploy.local import postgres as postgres_server
from deploy.local.base import StackError, run_sync
from deploy.provision import provision
from tests.support.processes import free_port

READY_TIMEOUT_S: Final = 120.0
POSTGRES_PORT: Final = 5432
KAFKA_HOST_LISTENER_PORT: Final = 19092  # the compose file's PLAINTEXT_HOST listener


def _interpolated(value: object) -> str:
    """A compose value with `${NAME:-default}` resolved from the environment, as compose does."""
    return re.sub(
        r"\$\{(\w+)(?::-([^}]*))?\}", lambda match: os.environ.get(match.group(1)) or match.group(2) or "", str(value)
    )


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"][name]
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: _interpolated(value) for name, value in service["environment"].items()}


def _wait(what: str, ready: Callable[[], Coroutine[Any, Any, bool]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not run_sync(ready()):
        if time.monotonic() > deadline:
            raise StackError(f"{what} in its container did not answer within {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.5)


@contextmanager
def container_stack() -> Iterator[tuple[str, str]]:
    """Postgres and Kafka started as containers, provisioned: (admin DSN, bootstrap); removed after."""
    postgres_spec, kafka_spec = _service("postgres"), _service("kafka")
    postgres_env = _environment(postgres_spec)
    kafka_env = _environment(kafka_spec)
    # Ports of the host chosen here: testcontainers would look the host's address up its own way,
    # which fails where the tests themselves run in a sandbox that looks like a container.
    postgres_port, kafka_port = free_port(), free_port()
    kafka_env["KAFKA_ADVERTISED_LISTENERS"] = f"PLAINTEXT://kafka:9092,PLAINTEXT_HOST://127.0.0.1:{kafka_port}"
    postgres = DockerContainer(qualified(postgres_spec["image"]), env=postgres_env)
    postgres.with_bind_ports(POSTGRES_PORT, postgres_port)
    broker = DockerContainer(qualified(kafka_spec["image"]), env=kafka_env, hostname=kafka_spec["hostname"])
    broker.with_bind_ports(KAFKA_HOST_LISTENER_PORT, kafka_port)
    with postgres, broker:
        password, database = postgres_env["POSTGRES_PASSWORD"], postgres_env["POSTGRES_DB"]
        dsn = f"postgresql://postgres:{password}@127.0.0.1:{postgres_port}/{database}"
        bootstrap = f"127.0.0.1:{kafka_port}"
        _wait("postgres", lambda: postgres_server.reachable(dsn))
        _wait("kafka", lambda: kafka.answers(bootstrap))
        run_sync(provision(dsn, bootstrap))
        yield dsn, bootstrap
