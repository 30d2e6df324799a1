"""The Akinon guest attempts' (and failed access token requests') rate-limit buckets
(services/order_api/domain/http_guards.py RateLimitBuckets):
a bucket's name, which `rate_windows` stores, holds no client IP and none of what a guest typed,
yet one client (and one order number) always counts in the same bucket, so the limits hold as before.
No I/O."""

import pytest

from services.order_api.domain.http_guards import RateLimitBuckets
from services.order_api.service.errors import RateLimited
from services.order_api.service.guards import HttpGuards
from services.order_api.settings import OrderApiSettings
from shared.services import ORDER_API
from tests.support.fake_store import FakeDatabase

BUCKETS = RateLimitBuckets(b"test-rate-limit-key")
IP = "198.51.100.23"
IPV6 = "2001:db8::8a2e:370:7334"
TYPED_EMAIL = "jane.doe@example.com"  # typed into the order number field


@pytest.mark.parametrize(("number", "client"), [("1042", IP), (TYPED_EMAIL, IPV6), ("#1042 ", "unknown")])
def test_a_bucket_name_holds_no_client_address_and_nothing_typed(number: str, client: str) -> None:
    names = [*BUCKETS.of_attempt(number, client), BUCKETS.of_number(number)]
    for name in names:
        assert client not in name
        assert number.strip() not in name
        assert "@" not in name
        assert name.startswith("guest-lookup:")


def test_one_client_and_number_always_count_in_the_same_buckets() -> None:
    assert BUCKETS.of_attempt("1042", IP) == RateLimitBuckets(b"test-rate-limit-key").of_attempt("1042", IP)
    per_client, per_number = BUCKETS.of_attempt("1042", IP)
    other_number_client, other_number = BUCKETS.of_attempt("1043", IP)
    assert other_number_client == per_client, "every number from one client counts against its limit"
    assert other_number != per_number
    other_client, other_client_number = BUCKETS.of_attempt("1042", "198.51.100.24")
    assert other_client != per_client
    assert other_client_number != per_number


def test_every_bucket_of_a_number_and_only_those_begin_with_its_prefix() -> None:
    # The order's erasure deletes its windows by this prefix; 10420's must not go with 1042's.
    assert BUCKETS.of_attempt("1042", IP)[1].startswith(BUCKETS.of_number("1042"))
    assert BUCKETS.of_attempt("1042", "10.0.0.1")[1].startswith(BUCKETS.of_number("1042"))
    assert not BUCKETS.of_attempt("10420", IP)[1].startswith(BUCKETS.of_number("1042"))
    assert not BUCKETS.of_attempt("1042", IP)[0].startswith(BUCKETS.of_number("1042"))


def test_the_key_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    default = OrderApiSettings.load(ORDER_API).rate_limit_buckets().of_attempt("1042", IP)
    monkeypatch.setenv("ORDER_API_RATE_LIMIT_HASH_KEY", "production-secret")
    keyed = OrderApiSettings.load(ORDER_API).rate_limit_buckets()
    assert keyed == RateLimitBuckets(b"production-secret")
    assert keyed.of_attempt("1042", IP) != default, "without the key nobody can tell which IP a bucket counts"


async def test_the_limits_hold_per_client_as_before(database: FakeDatabase) -> None:
    guards = HttpGuards(database)

    def limits(number: str, client: str) -> list[tuple[str, int]]:
        per_client, per_number = BUCKETS.of_attempt(number, client)
        return [(per_client, 10), (per_number, 3)]

    for _ in range(3):
        await guards.limit_rate(limits("1042", IP), 60)
    with pytest.raises(RateLimited):
        await guards.limit_rate(limits("1042", IP), 60)
    for number in ("1043", "1044", "1045", "1046", "1047", "1048"):
        await guards.limit_rate(limits(number, IP), 60)
    with pytest.raises(RateLimited):  # the 11th attempt from this client, on a number it has not tried
        await guards.limit_rate(limits("1049", IP), 60)
    await guards.limit_rate(limits("1042", "198.51.100.24"), 60)  # another client is not held back
    stored = " ".join(bucket for bucket, _ in database.tables.http_guards.windows)
    assert IP not in stored
    assert "1042" not in stored


def test_a_clients_failed_token_requests_count_in_a_bucket_of_its_own_naming_no_address() -> None:
    bucket = BUCKETS.of_token_failures(IP)

    assert IP not in bucket
    assert bucket.startswith("token-failures:")
    assert bucket == RateLimitBuckets(b"test-rate-limit-key").of_token_failures(IP)
    assert bucket != BUCKETS.of_token_failures("198.51.100.24")
    assert bucket not in BUCKETS.of_attempt("1042", IP), "guest lookups and token failures count apart"
