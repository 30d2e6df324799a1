"""Every HMAC key setting (access tokens' signatures, hashed rate-limit buckets, hashed emails) refuses
at start a key so short that what it keys could be forged or reversed, and takes a real one."""

import pytest
from pydantic import ValidationError

from services.anonymizer.settings import AnonymizerSettings
from services.order_api.settings import OrderApiSettings
from shared.services import ANONYMIZER, ORDER_API, ServiceSpec
from shared.settings import MIN_KEY_CHARS, ServiceSettings

KEYS: list[tuple[type[ServiceSettings], ServiceSpec, str]] = [
    (OrderApiSettings, ORDER_API, "ORDER_API_ACCESS_TOKEN_SECRET"),
    (OrderApiSettings, ORDER_API, "ORDER_API_RATE_LIMIT_HASH_KEY"),
    (AnonymizerSettings, ANONYMIZER, "ANONYMIZER_ACCESS_TOKEN_SECRET"),
    (AnonymizerSettings, ANONYMIZER, "ANONYMIZER_EMAIL_HASH_KEY"),
]


@pytest.mark.parametrize(("settings", "spec", "name"), KEYS, ids=[name for *_, name in KEYS])
def test_an_empty_or_short_key_is_refused_and_a_long_one_taken(
    monkeypatch: pytest.MonkeyPatch, settings: type[ServiceSettings], spec: ServiceSpec, name: str
) -> None:
    for short in ("", "x" * (MIN_KEY_CHARS - 1)):
        monkeypatch.setenv(name, short)
        with pytest.raises(ValidationError, match=f"at least {MIN_KEY_CHARS} characters"):
            settings.load(spec)
    monkeypatch.setenv(name, "k" * MIN_KEY_CHARS)
    field = name.removeprefix(spec.env_prefix).lower()
    assert getattr(settings.load(spec), field).get_secret_value() == "k" * MIN_KEY_CHARS
