"""API keys and scopes (shared/auth.py), as the dispatcher's admin API uses them."""

from collections.abc import Sequence

import pytest

from shared.auth import LOCAL_API_KEY, ApiKeySettings, KeyRing, authorize
from shared.problems import Problem
from shared.services import WEBHOOK_DISPATCHER

KEYS = {"reader-key": ["webhooks:read"], "admin-key": ["webhooks:admin", "orders:read"], "root-key": ["*"]}


def scopes_of(keys: dict[str, list[str]], presented: str) -> Sequence[str] | None:
    caller = KeyRing(keys).key(presented)
    return caller.scopes if caller is not None else None


@pytest.mark.parametrize("key", ["admin-key", "root-key"])
def test_a_key_with_the_scope_passes(key: str) -> None:
    assert authorize(scopes_of(KEYS, key), "webhooks:admin") == KEYS[key]


@pytest.mark.parametrize("presented", ["", "unknown", "admin-key ", "ADMIN-KEY", "admin-ke"])
def test_a_missing_or_unknown_key_is_unauthorized(presented: str) -> None:
    with pytest.raises(Problem) as refused:
        authorize(scopes_of(KEYS, presented), "webhooks:admin")

    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}


def test_a_key_without_the_scope_is_forbidden() -> None:
    with pytest.raises(Problem) as refused:
        authorize(scopes_of(KEYS, "reader-key"), "webhooks:admin")

    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    assert "webhooks:admin" in refused.value.detail


def test_scopes_of_finds_the_key() -> None:
    assert scopes_of(KEYS, "admin-key") == ["webhooks:admin", "orders:read"]
    assert scopes_of(KEYS, "nope") is None
    assert scopes_of({}, "admin-key") is None


def test_the_local_default_is_one_key_with_every_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOKS_API_KEYS", raising=False)

    settings = ApiKeySettings.load(WEBHOOK_DISPATCHER)

    assert settings.api_keys == {LOCAL_API_KEY: ["*"]}


def test_keys_come_from_the_service_prefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_API_KEYS", '{"k-1": ["webhooks:admin"]}')

    settings = ApiKeySettings.load(WEBHOOK_DISPATCHER)

    assert settings.api_keys == {"k-1": ["webhooks:admin"]}
    assert scopes_of(settings.api_keys, LOCAL_API_KEY) is None
