"""The services of the platform: what each is called, which schema and role it owns, where it listens.

The launcher, the provisioning job and the settings all read this table, so a service is declared once.
"""

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent


@cache
def project_version() -> str:
    """The platform's version, as pyproject.toml names it."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as pyproject:
        version: str = tomllib.load(pyproject)["project"]["version"]
    return version


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str  # the package under services/, and the Kafka client id / consumer group
    schema: str  # the Postgres schema it owns; its login role has the same name
    env_prefix: str  # prefix of its settings' environment variables
    http_port: int  # default local port

    @property
    def role(self) -> str:
        return self.schema

    @property
    def migrations_dir(self) -> Path:
        return REPO_ROOT / "services" / self.name / "migrations"


ORDER_API: Final = ServiceSpec("order_api", "order_api", "ORDER_API_", 8000)
ANONYMIZER: Final = ServiceSpec("anonymizer", "anonymizer", "ANONYMIZER_", 8001)
CANCELLATION_WORKER: Final = ServiceSpec("cancellation_worker", "cancellation", "CANCELLATION_", 8002)
WEBHOOK_DISPATCHER: Final = ServiceSpec("webhook_dispatcher", "webhooks", "WEBHOOKS_", 8003)

SERVICES: Final = (ORDER_API, ANONYMIZER, CANCELLATION_WORKER, WEBHOOK_DISPATCHER)


def local_port(variable: str, default: int) -> int:
    value = os.environ.get(variable, "")
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 65535):
        raise ValueError(f"{variable}={value!r} is not a TCP port")
    return int(value)


# The local stack's ports (deploy/local), away from the standard ones and below Linux's ephemeral
# range (32768-60999): a client retrying a stopped server there can be handed the server's own port
# as its source port and connect to itself, holding the port so the server cannot bind it again.
# `LOCAL_PG_PORT` / `LOCAL_KAFKA_PORT` move them (the Kafka controller takes the next port).
DEFAULT_LOCAL_PG_PORT: Final = 15432
DEFAULT_LOCAL_KAFKA_PORT: Final = 19092  # also docker-compose.yml's host port, which these variables do not move
LOCAL_PG_PORT: Final = local_port("LOCAL_PG_PORT", DEFAULT_LOCAL_PG_PORT)
LOCAL_KAFKA_PORT: Final = local_port("LOCAL_KAFKA_PORT", DEFAULT_LOCAL_KAFKA_PORT)
LOCAL_DATABASE: Final = "orders"
LOCAL_ADMIN_DSN: Final = f"postgresql://postgres@127.0.0.1:{LOCAL_PG_PORT}/{LOCAL_DATABASE}"
LOCAL_KAFKA_BOOTSTRAP: Final = f"127.0.0.1:{LOCAL_KAFKA_PORT}"
