"""Access tokens (shared/access_tokens.py) and the keys they stand for (shared/auth.py KeyRing): what a
token lets through, and every way one is refused: expired, forged, signed under another secret, or
standing for a key no longer configured. In memory, no I/O."""

import base64
import time

import pytest
from starlette.types import Scope

from shared.access_tokens import TokenSigner
from shared.auth import AuthenticationMiddleware, Caller, KeyRing
from tests.support.asgi import Exchange, http_scope, reading_app

KEYS = {"anonymizer-key": ["orders:anonymize", "orders:read"], "reader-key": ["orders:read"]}
SECRET = b"s" * 32
NOW = 1_800_000_000.0


def caller_of(keys: KeyRing, key: str) -> Caller:
    caller = keys.key(key)
    assert caller is not None
    return caller


def test_a_token_stands_for_its_key_with_the_keys_scopes_until_it_expires() -> None:
    keys = KeyRing(KEYS, SECRET)
    key = caller_of(keys, "anonymizer-key")

    issued = keys.issue(key, 3600, NOW)

    assert issued.expires_at == NOW + 3600
    assert keys.caller(issued.token, NOW) == key
    assert keys.caller(issued.token, NOW + 3599) == key
    assert keys.caller(issued.token, NOW + 3600) is None
    assert list(key.scopes) == ["orders:anonymize", "orders:read"]


def test_a_token_tells_nothing_of_its_key() -> None:
    keys = KeyRing(KEYS, SECRET)
    key = caller_of(keys, "anonymizer-key")

    token = keys.issue(key, 60, NOW).token

    assert "anonymizer-key" not in token
    assert key.principal not in token  # the digest idempotency records are kept under
    assert base64.urlsafe_b64encode(b"anonymizer-key").decode().rstrip("=") not in token


def test_a_token_is_no_key_so_it_cannot_be_traded_for_another() -> None:
    keys = KeyRing(KEYS, SECRET)
    token = keys.issue(caller_of(keys, "reader-key"), 60, NOW).token

    assert keys.key(token) is None


def _tampered(token: str, part: int, value: str) -> str:
    parts = token.split(".")
    parts[part] = value
    return ".".join(parts)


def test_a_forged_or_altered_token_is_refused() -> None:
    keys = KeyRing(KEYS, SECRET)
    reader = caller_of(keys, "reader-key")
    anonymizer = caller_of(keys, "anonymizer-key")
    token = keys.issue(reader, 60, NOW).token
    longer = keys.issue(reader, 10**6, NOW).token

    forgeries = [
        _tampered(token, 1, anonymizer.key_id),  # another key's id: more scopes
        _tampered(token, 2, str(int(NOW) + 10**6)),  # a later expiry
        _tampered(token, 3, longer.split(".")[3]),  # another token's signature
        _tampered(token, 3, ""),
        _tampered(token, 0, "oat2"),
        token + ".x",
        token.rpartition(".")[0],
        "",
        "oat1...",
    ]

    assert all(keys.caller(forged, NOW) is None for forged in forgeries)
    assert keys.caller(token, NOW) == reader


def test_a_token_signed_under_another_secret_is_refused() -> None:
    token = KeyRing(KEYS, SECRET).issue(caller_of(KeyRing(KEYS, SECRET), "reader-key"), 60, NOW).token

    assert KeyRing(KEYS, b"t" * 32).caller(token, NOW) is None


def test_instances_with_the_same_keys_and_secret_accept_each_others_tokens() -> None:
    issuing, other = KeyRing(KEYS, SECRET), KeyRing(dict(reversed(KEYS.items())), SECRET)

    token = issuing.issue(caller_of(issuing, "anonymizer-key"), 60, NOW).token

    assert other.caller(token, NOW) == caller_of(other, "anonymizer-key")


def test_removing_a_key_voids_its_tokens_at_once() -> None:
    before = KeyRing(KEYS, SECRET)
    token = before.issue(caller_of(before, "anonymizer-key"), 3600, NOW).token

    after = KeyRing({"reader-key": KEYS["reader-key"]}, SECRET)

    assert after.caller(token, NOW) is None


def test_without_a_configured_secret_tokens_hold_while_the_keys_do() -> None:
    """The secret is then derived from the keys: same keys, same secret (several instances agree);
    another set of keys voids every token."""
    token = KeyRing(KEYS).issue(caller_of(KeyRing(KEYS), "reader-key"), 60, NOW).token

    assert KeyRing(dict(reversed(KEYS.items()))).caller(token, NOW) is not None
    assert KeyRing(KEYS | {"new-key": ["orders:read"]}).caller(token, NOW) is None


def test_signer_reads_only_what_it_signed() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue("abc", 42)

    read = signer.read(token)

    assert read is not None
    assert (read.key_id, read.expires_at, read.expired(41.9), read.expired(42)) == ("abc", 42, False, True)
    assert TokenSigner(SECRET + b"!").read(token) is None
    assert signer.read(_tampered(token, 2, "4.2")) is None


@pytest.mark.parametrize(("issued_ago", "status"), [(0, 200), (59, 200), (60, 401), (3600, 401)])
async def test_the_middleware_lets_a_token_through_until_it_expires_and_refuses_it_before_the_body(
    issued_ago: float, status: int
) -> None:
    keys = KeyRing(KEYS, SECRET)
    token = keys.issue(caller_of(keys, "reader-key"), 60, time.time() - issued_ago).token
    exchange = Exchange([b"x" * 400] * 3)

    await exchange.run(AuthenticationMiddleware(reading_app, keys), bearer(token))

    assert exchange.status == status
    if status == 401:
        assert exchange.read == 0
        assert exchange.problem["code"] == "unauthorized"
        assert "access token" in exchange.problem["detail"]
    else:
        assert exchange.sent[1]["body"] == b"1200"


async def test_the_middleware_refuses_a_forged_token_before_the_body() -> None:
    keys = KeyRing(KEYS, SECRET)
    token = keys.issue(caller_of(keys, "reader-key"), 60, time.time()).token
    forged = _tampered(token, 1, caller_of(keys, "anonymizer-key").key_id)
    exchange = Exchange([b"x" * 400] * 3)

    await exchange.run(AuthenticationMiddleware(reading_app, keys), bearer(forged))

    assert (exchange.status, exchange.read) == (401, 0)


def bearer(token: str) -> Scope:
    return http_scope(headers={"authorization": f"Bearer {token}"})
