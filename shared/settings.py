"""Settings per service from environment variables (pydantic-settings), one prefix per service.

`DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` configure the whole system at once; each service derives
its own role's DSN from the first. `<PREFIX>DATABASE_URL` and friends override per service.
"""

import os
from typing import Annotated, Final, Self

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.dsn import ADMIN_DSN_VARIABLE, password_variable, service_dsn
from shared.services import LOCAL_KAFKA_BOOTSTRAP, ServiceSpec

KAFKA_BOOTSTRAP_VARIABLE: Final = "KAFKA_BOOTSTRAP_SERVERS"

# The shortest key an HMAC of ours is set up with (a token's signature, a hashed email or address): an
# empty or short one would let anyone forge or reverse what it keys.
MIN_KEY_CHARS: Final = 16


def _long_enough(key: SecretStr) -> SecretStr:
    if len(key.get_secret_value()) < MIN_KEY_CHARS:
        raise ValueError(f"must be at least {MIN_KEY_CHARS} characters (a random string of your own)")
    return key


# A secret key for an HMAC, as a setting.
HmacKey = Annotated[SecretStr, AfterValidator(_long_enough)]


class SetWhenDeployed:
    """Field metadata: the setting's default serves local development only (a loopback address, a
    published key), so every deployment sets it. deploy/k8s and docker-compose.yml are checked against
    these (`ServiceSettings.deployment_variables`)."""


SET_WHEN_DEPLOYED: Final = SetWhenDeployed()

# Any one group of variables, all of that group, sets a setting.
VariableChoices = tuple[frozenset[str], ...]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: Annotated[str, SET_WHEN_DEPLOYED] = ""
    kafka_bootstrap_servers: Annotated[str, SET_WHEN_DEPLOYED] = ""
    http_host: Annotated[str, SET_WHEN_DEPLOYED] = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    log_level: str = "INFO"
    consumer_group: str = ""
    # A consumer that stops heartbeating (a crash) is taken out of its group after this, and its
    # partitions go to the others; members learn of a rebalance (one leaving, one joining) at their next
    # heartbeat. Measured in bench/rebalance.py: 6 s (the broker's least by default) and 1 s took a
    # crashed member's partitions back within ~7 s and a stopped one's within ~1 s, against ~16 s and
    # ~3 s with aiokafka's 10 s and 3 s.
    consumer_session_timeout_seconds: float = Field(default=6.0, gt=0)
    consumer_heartbeat_seconds: float = Field(default=1.0, gt=0)
    # A consumed event whose handler keeps failing goes to the DLQ after this many tries.
    max_delivery_attempts: int = Field(default=5, ge=1)
    retry_backoff_seconds: float = Field(default=0.2, ge=0)
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)
    # The relay's leader renews its lease every third of this; when a leader dies without handing
    # over, a stand-by takes over once the lease has run out.
    outbox_lease_seconds: float = Field(default=10.0, gt=0)
    # How long a stop (SIGTERM/SIGINT) may take, all of it: below the orchestrator's patience (Kubernetes'
    # terminationGracePeriodSeconds 30, compose's stop_grace_period 30 s, `./dev run` 25 s).
    # Retention of the kernel tables (shared/retention.py): published outbox rows are purged this long
    # after they were sent, parked ones this long after they were parked; a run this often, deleting
    # this many rows per statement.
    outbox_retention_hours: float = Field(default=24.0, gt=0)
    outbox_parked_retention_hours: float = Field(default=168.0, gt=0)
    table_purge_interval_seconds: float = Field(default=600.0, gt=0)
    table_purge_batch_rows: int = Field(default=200, ge=1)
    shutdown_grace_seconds: float = Field(default=15.0, gt=0)
    # How often the backlog gauges on /metrics (consumer lag, outbox backlog, the dispatcher's) are read.
    metrics_interval_seconds: float = Field(default=10.0, gt=0)
    db_pool_size: int = Field(default=10, ge=2)
    # HTTP limits. A request body larger than `max_body_bytes` is refused with 413 while it streams
    # in, never buffered whole; one that has not fully arrived `http_body_timeout_seconds` after the
    # first read of it gets 408. Idle keep-alive connections close after `http_keep_alive_seconds`;
    # beyond `http_max_concurrency` connections and requests at once, new ones get 503.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    http_max_concurrency: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _heartbeats_within_the_session(self) -> Self:
        if self.consumer_heartbeat_seconds * 3 > self.consumer_session_timeout_seconds:
            raise ValueError(
                "consumer_heartbeat_seconds must be at most a third of consumer_session_timeout_seconds "
                f"({self.consumer_session_timeout_seconds}): a member must heartbeat several times per session"
            )
        return self

    @classmethod
    def load(cls, spec: ServiceSpec) -> Self:
        """Read `<PREFIX>*` variables and fill what is unset from the system-wide ones."""
        settings = cls(_env_prefix=spec.env_prefix)
        return settings.model_copy(
            update={
                "database_url": settings.database_url or service_dsn(spec),
                "kafka_bootstrap_servers": settings.kafka_bootstrap_servers
                or os.environ.get(KAFKA_BOOTSTRAP_VARIABLE)
                or LOCAL_KAFKA_BOOTSTRAP,
                "http_port": settings.http_port or spec.http_port,
                "consumer_group": settings.consumer_group or spec.name,
            }
        )

    @classmethod
    def deployment_variables(cls, spec: ServiceSpec) -> dict[str, VariableChoices]:
        """The environment variables a deployment of `spec` sets, for each setting marked SET_WHEN_DEPLOYED:
        its own `<PREFIX>NAME`, or the system-wide ones `load` falls back on."""
        fallbacks = {
            "database_url": frozenset({ADMIN_DSN_VARIABLE, password_variable(spec)}),
            "kafka_bootstrap_servers": frozenset({KAFKA_BOOTSTRAP_VARIABLE}),
        }
        return {
            name: (frozenset({spec.env_prefix + name.upper()}),) + ((fallbacks[name],) if name in fallbacks else ())
            for name, field in cls.model_fields.items()
            if SET_WHEN_DEPLOYED in field.metadata
        }
