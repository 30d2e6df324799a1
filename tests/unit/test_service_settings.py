"""Settings from the environment (shared/settings.py ServiceSettings.load)."""

import os
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from deploy.local.run import GRACE_S as LAUNCHER_GRACE_S
from services.order_api.settings import OrderApiSettings
from services.webhook_dispatcher.settings import DispatcherSettings
from shared import runtime
from shared.services import (
    CANCELLATION_WORKER,
    LOCAL_KAFKA_BOOTSTRAP,
    LOCAL_KAFKA_PORT,
    LOCAL_PG_PORT,
    ORDER_API,
    SERVICES,
    WEBHOOK_DISPATCHER,
    ServiceSpec,
)
from shared.settings import ServiceSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the machine running the tests."""
    prefixes = tuple(spec.env_prefix for spec in SERVICES)
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(prefixes) or upper in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}:
            monkeypatch.delenv(name)


@pytest.mark.parametrize("spec", SERVICES, ids=[spec.name for spec in SERVICES])
def test_defaults_follow_the_service_table(spec: ServiceSpec) -> None:
    settings = ServiceSettings.load(spec)

    assert settings.http_port == spec.http_port
    assert settings.consumer_group == spec.name
    assert settings.kafka_bootstrap_servers == LOCAL_KAFKA_BOOTSTRAP == f"127.0.0.1:{LOCAL_KAFKA_PORT}"
    assert settings.database_url == f"postgresql://{spec.role}:{spec.role}@127.0.0.1:{LOCAL_PG_PORT}/orders"
    assert settings.http_host == "127.0.0.1"
    assert settings.log_level == "INFO"


def test_documented_default_ports() -> None:
    ports = {spec.name: ServiceSettings.load(spec).http_port for spec in SERVICES}

    assert ports == {"order_api": 8000, "anonymizer": 8001, "cancellation_worker": 8002, "webhook_dispatcher": 8003}


def test_database_url_derives_the_service_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:adminpw@pg.prod:5433/shop?sslmode=require")

    settings = ServiceSettings.load(CANCELLATION_WORKER)

    assert settings.database_url == "postgresql://cancellation:cancellation@pg.prod:5433/shop?sslmode=require"


def test_database_url_with_prefixed_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin@pg.prod:5432/shop")
    monkeypatch.setenv("ORDER_API_DATABASE_PASSWORD", "vault-pw")

    assert ServiceSettings.load(ORDER_API).database_url == "postgresql://order_api:vault-pw@pg.prod:5432/shop"


def test_prefixed_database_url_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin@pg.prod:5432/shop")
    monkeypatch.setenv("ORDER_API_DATABASE_URL", "postgresql://custom:pw@other:5432/db")

    assert ServiceSettings.load(ORDER_API).database_url == "postgresql://custom:pw@other:5432/db"
    # the override is per service
    assert ServiceSettings.load(WEBHOOK_DISPATCHER).database_url == ("postgresql://webhooks:webhooks@pg.prod:5432/shop")


def test_prefixed_http_port_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_API_HTTP_PORT", "9100")

    assert ServiceSettings.load(ORDER_API).http_port == 9100
    assert ServiceSettings.load(WEBHOOK_DISPATCHER).http_port == 8003


def test_unprefixed_http_port_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PORT", "9999")

    assert ServiceSettings.load(ORDER_API).http_port == 8000


def test_kafka_bootstrap_servers_overrides_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")

    for spec in SERVICES:
        assert ServiceSettings.load(spec).kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_prefixed_kafka_bootstrap_wins_over_the_global_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    monkeypatch.setenv("ANONYMIZER_KAFKA_BOOTSTRAP_SERVERS", "kafka-eu:9092")

    spec = next(spec for spec in SERVICES if spec.name == "anonymizer")
    assert ServiceSettings.load(spec).kafka_bootstrap_servers == "kafka-eu:9092"
    assert ServiceSettings.load(ORDER_API).kafka_bootstrap_servers == "kafka-1:9092"


def test_prefixed_consumer_group_and_tuning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_API_CONSUMER_GROUP", "order_api-blue")
    monkeypatch.setenv("ORDER_API_MAX_DELIVERY_ATTEMPTS", "9")
    monkeypatch.setenv("ORDER_API_LOG_LEVEL", "DEBUG")

    settings = ServiceSettings.load(ORDER_API)

    assert settings.consumer_group == "order_api-blue"
    assert settings.max_delivery_attempts == 9
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "name",
    [
        "outbox_retention_hours",
        "outbox_parked_retention_hours",
        "table_purge_interval_seconds",
        "table_purge_batch_rows",
        "metrics_interval_seconds",
        "consumer_session_timeout_seconds",
        "consumer_heartbeat_seconds",
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_retention_metrics_or_membership_setting_not_above_zero_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"ORDER_API_{name.upper()}", value)

    with pytest.raises(ValidationError) as caught:
        ServiceSettings.load(ORDER_API)

    assert [error["loc"] for error in caught.value.errors()] == [(name,)]


@pytest.mark.parametrize(
    ("settings", "spec", "name"),
    [
        (OrderApiSettings, ORDER_API, "count_fold_interval_seconds"),
        (OrderApiSettings, ORDER_API, "idempotency_ttl_seconds"),
        (DispatcherSettings, WEBHOOK_DISPATCHER, "recovery_check_interval_seconds"),
        (DispatcherSettings, WEBHOOK_DISPATCHER, "idempotency_ttl_seconds"),
        (DispatcherSettings, WEBHOOK_DISPATCHER, "idempotency_lease_seconds"),
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_count_fold_recovery_check_or_idempotency_setting_not_above_zero_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, settings: type[ServiceSettings], spec: ServiceSpec, name: str, value: str
) -> None:
    monkeypatch.setenv(f"{spec.env_prefix}{name.upper()}", value)

    with pytest.raises(ValidationError) as caught:
        settings.load(spec)

    assert [error["loc"] for error in caught.value.errors()] == [(name,)]


@pytest.mark.parametrize("value", ["abc", "70000", "-1", "80.5"])
def test_invalid_http_port_fails(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ORDER_API_HTTP_PORT", value)

    with pytest.raises(ValidationError) as caught:
        ServiceSettings.load(ORDER_API)

    assert [error["loc"] for error in caught.value.errors()] == [("http_port",)]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDER_API_MAX_DELIVERY_ATTEMPTS", "0"),
        ("ORDER_API_DB_POOL_SIZE", "1"),
        ("ORDER_API_OUTBOX_POLL_INTERVAL_SECONDS", "0"),
        ("ORDER_API_RETRY_BACKOFF_SECONDS", "-0.5"),
    ],
)
def test_out_of_range_tuning_fails(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        ServiceSettings.load(ORDER_API)


def test_settings_are_frozen() -> None:
    settings = ServiceSettings.load(ORDER_API)

    with pytest.raises(ValidationError):
        settings.http_port = 1  # type: ignore[misc]


def test_dispatcher_reads_its_schedule_from_its_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE_SECONDS", "[1, 2.5, 60]")

    settings = DispatcherSettings.load(WEBHOOK_DISPATCHER)

    assert settings.retry_schedule_seconds == [1, 2.5, 60]
    assert settings.http_port == 8003
    assert settings.consumer_group == "webhook_dispatcher"


def test_dispatcher_default_schedule() -> None:
    settings = DispatcherSettings.load(WEBHOOK_DISPATCHER)

    assert settings.retry_schedule_seconds == [5, 300, 1800, 7200, 18000, 36000, 36000]


def test_dispatcher_refuses_an_empty_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE_SECONDS", "[]")

    with pytest.raises(ValidationError):
        DispatcherSettings.load(WEBHOOK_DISPATCHER)


def test_a_stop_fits_in_the_launchers_and_orchestrators_patience() -> None:
    # Kubernetes' default terminationGracePeriodSeconds and compose's stop_grace_period are 30 s.
    grace = ServiceSettings.load(ORDER_API).shutdown_grace_seconds
    assert grace < LAUNCHER_GRACE_S < 30


def test_serve_hands_the_http_limits_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_API_HTTP_KEEP_ALIVE_SECONDS", "7")
    monkeypatch.setenv("ORDER_API_HTTP_MAX_CONCURRENCY", "321")
    monkeypatch.setenv("ORDER_API_SHUTDOWN_GRACE_SECONDS", "12")
    passed: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: passed.update(options))
    monkeypatch.setattr("signal.signal", lambda *_: None)

    runtime.serve(FastAPI(), ServiceSettings.load(ORDER_API))

    assert (passed["timeout_keep_alive"], passed["limit_concurrency"]) == (7, 321)
    assert passed["timeout_graceful_shutdown"] == 4  # a third of the grace; the rest is the lifespan's
