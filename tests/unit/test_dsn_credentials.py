"""Per-service DSNs derived from one administrative DSN (shared/dsn.py)."""

from urllib.parse import unquote, urlsplit

import pytest

from shared.dsn import admin_dsn, service_dsn, service_password, with_credentials
from shared.services import (
    ANONYMIZER,
    CANCELLATION_WORKER,
    LOCAL_ADMIN_DSN,
    LOCAL_PG_PORT,
    ORDER_API,
    SERVICES,
    WEBHOOK_DISPATCHER,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for spec in SERVICES:
        monkeypatch.delenv(f"{spec.env_prefix}DATABASE_PASSWORD", raising=False)


# ---- with_credentials --------------------------------------------------------------------------


def test_replaces_user_and_password_and_keeps_the_rest() -> None:
    dsn = "postgresql://admin:s3cret@db.internal:6543/orders?sslmode=require&application_name=x"

    result = with_credentials(dsn, "order_api", "pw")

    assert result == "postgresql://order_api:pw@db.internal:6543/orders?sslmode=require&application_name=x"


def test_adds_credentials_to_a_dsn_without_password() -> None:
    assert with_credentials(LOCAL_ADMIN_DSN, "webhooks", "webhooks") == (
        f"postgresql://webhooks:webhooks@127.0.0.1:{LOCAL_PG_PORT}/orders"
    )


def test_adds_credentials_to_a_dsn_without_user() -> None:
    assert with_credentials("postgresql://db.internal:5432/orders", "anonymizer", "pw") == (
        "postgresql://anonymizer:pw@db.internal:5432/orders"
    )


def test_no_port_stays_without_port() -> None:
    assert with_credentials("postgres://admin@db.internal/orders", "u", "p") == "postgres://u:p@db.internal/orders"


def test_special_characters_are_quoted_and_round_trip() -> None:
    user = "svc user@corp"
    password = "p@ss:w/rd?#%&= é"

    result = with_credentials("postgresql://admin:x@db.internal:5432/orders?sslmode=verify-full", user, password)
    parts = urlsplit(result)

    assert "p@ss" not in result
    assert parts.hostname == "db.internal"
    assert parts.port == 5432
    assert parts.path == "/orders"
    assert parts.query == "sslmode=verify-full"
    assert parts.username is not None
    assert parts.password is not None
    assert unquote(parts.username) == user
    assert unquote(parts.password) == password
    assert result.startswith("postgresql://svc%20user%40corp:p%40ss%3Aw%2Frd%3F%23%25%26%3D%20%C3%A9@")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://admin:x@[::1]:5432/orders", "postgresql://u:p@[::1]:5432/orders"),
        ("postgresql://admin@[2001:db8::10]/orders", "postgresql://u:p@[2001:db8::10]/orders"),
    ],
)
def test_ipv6_hosts_keep_their_brackets(dsn: str, expected: str) -> None:
    result = with_credentials(dsn, "u", "p")

    assert result == expected
    assert urlsplit(result).hostname == urlsplit(dsn).hostname


def test_a_dsn_without_host_gets_loopback() -> None:
    assert with_credentials("postgresql:///orders", "u", "p") == "postgresql://u:p@127.0.0.1/orders"


# ---- service_password / service_dsn / admin_dsn ------------------------------------------------


def test_password_defaults_to_the_role_name() -> None:
    assert service_password(ORDER_API) == "order_api"
    # the role is the schema, not the service name
    assert service_password(CANCELLATION_WORKER) == "cancellation"
    assert service_password(WEBHOOK_DISPATCHER) == "webhooks"


def test_password_comes_from_the_prefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANONYMIZER_DATABASE_PASSWORD", "from-the-vault")

    assert service_password(ANONYMIZER) == "from-the-vault"
    assert service_password(ORDER_API) == "order_api"  # other services are unaffected


def test_service_dsn_uses_the_role_on_the_local_stack_by_default() -> None:
    assert (
        service_dsn(CANCELLATION_WORKER) == f"postgresql://cancellation:cancellation@127.0.0.1:{LOCAL_PG_PORT}/orders"
    )


def test_service_dsn_uses_the_prefixed_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_DATABASE_PASSWORD", "s/cr@t")

    assert service_dsn(WEBHOOK_DISPATCHER) == f"postgresql://webhooks:s%2Fcr%40t@127.0.0.1:{LOCAL_PG_PORT}/orders"


def test_service_dsn_derives_from_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://root:rootpw@pg.prod:5433/shop?sslmode=require")

    assert service_dsn(ORDER_API) == "postgresql://order_api:order_api@pg.prod:5433/shop?sslmode=require"


def test_service_dsn_prefers_an_explicit_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://root@pg.prod/shop")

    assert service_dsn(ORDER_API, "postgresql://root@pg.test:5432/t") == (
        "postgresql://order_api:order_api@pg.test:5432/t"
    )


def test_admin_dsn_defaults_to_local_stack() -> None:
    assert admin_dsn() == LOCAL_ADMIN_DSN == f"postgresql://postgres@127.0.0.1:{LOCAL_PG_PORT}/orders"


def test_admin_dsn_honours_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://root:pw@pg.prod:5432/shop")

    assert admin_dsn() == "postgresql://root:pw@pg.prod:5432/shop"


def test_empty_database_url_falls_back_to_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")

    assert admin_dsn() == LOCAL_ADMIN_DSN
