"""The consumers' group membership settings (session timeout, heartbeat) and what the subscribers get."""

import pytest
from pydantic import ValidationError

from shared.services import CANCELLATION_WORKER
from shared.settings import ServiceSettings


def test_consumers_default_to_a_six_second_session_and_one_second_heartbeats() -> None:
    settings = ServiceSettings.load(CANCELLATION_WORKER)

    assert (settings.consumer_session_timeout_seconds, settings.consumer_heartbeat_seconds) == (6.0, 1.0)


def test_a_heartbeat_over_a_third_of_the_session_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANCELLATION_CONSUMER_SESSION_TIMEOUT_SECONDS", "6")
    monkeypatch.setenv("CANCELLATION_CONSUMER_HEARTBEAT_SECONDS", "3")

    with pytest.raises(ValidationError, match="consumer_heartbeat_seconds must be at most a third"):
        ServiceSettings.load(CANCELLATION_WORKER)


def test_a_longer_session_takes_longer_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANCELLATION_CONSUMER_SESSION_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("CANCELLATION_CONSUMER_HEARTBEAT_SECONDS", "10")

    assert ServiceSettings.load(CANCELLATION_WORKER).consumer_heartbeat_seconds == 10
