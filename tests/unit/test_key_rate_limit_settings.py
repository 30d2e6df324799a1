"""The limit per API key as configured (ApiKeySettings): per key, else every key's, else none; a limit for a
key that is not configured is refused at start; an access token is limited as its key."""

import pytest
from pydantic import ValidationError

from shared.auth import ApiKeySettings, KeyRing
from shared.key_rate_limit import Quota


def test_a_keys_own_limit_wins_over_every_keys_and_none_leaves_it_unlimited() -> None:
    settings = ApiKeySettings(
        api_keys={"gold": ["*"], "plain": ["*"]}, api_key_rate_limits={"gold": 1000}, api_key_rate_limit=10
    )
    assert (settings.rate_limit_of("gold"), settings.rate_limit_of("plain")) == (1000, 10)
    assert ApiKeySettings(api_keys={"plain": ["*"]}).rate_limit_of("plain") is None


def test_a_limit_for_an_unknown_key_or_below_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="names 1 key"):
        ApiKeySettings(api_keys={"gold": ["*"]}, api_key_rate_limits={"typo": 5})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ApiKeySettings(api_keys={"gold": ["*"]}, api_key_rate_limits={"gold": 0})


def test_an_access_token_counts_against_its_keys_limit() -> None:
    keys = KeyRing.of(ApiKeySettings(api_keys={"gold": ["*"]}, api_key_rate_limit=7))
    caller = keys.key("gold")
    assert caller is not None
    assert caller.rate_limit == 7
    issued = keys.issue(caller, 60, now=1_000.0)
    assert keys.caller(issued.token, now=1_001.0) == caller


def test_the_ietf_headers_say_the_quota_the_window_and_what_is_left() -> None:
    assert Quota(limit=5, window_seconds=60, hits=2, reset_seconds=17).headers() == {
        "RateLimit-Policy": '"api-key";q=5;w=60',
        "RateLimit": '"api-key";r=3;t=17',
    }
    over = Quota(limit=5, window_seconds=60, hits=9, reset_seconds=17)
    assert over.exceeded
    assert over.headers()["RateLimit"] == '"api-key";r=0;t=17'
