"""Which topics carry personal data, the configs provisioning gives them (shared/topics.py), and the
retention setting it reads (deploy/provision.py); the broker's side is tests/integration/test_topic_retention.py.
No I/O."""

from datetime import timedelta

import pytest

from deploy.provision import PERSONAL_DATA_RETENTION_VARIABLE, ProvisionError, personal_data_retention
from shared.topics import (
    ALL_TOPICS,
    ANONYMIZATION_EVENTS,
    CANCELLATIONS_EVENTS,
    CANCELLATIONS_REQUESTS,
    ORDERS_EVENTS,
    ORDERS_INGEST,
    PAYMENTS_COMMANDS,
    PERSONAL_DATA_TOPICS,
    WEBHOOKS_EVENTS,
    dlq,
    topic_configs,
)

HOUR_MS = 3600 * 1000


def test_the_topics_that_carry_personal_data_are_these_and_their_dead_letters() -> None:
    sources = [ORDERS_EVENTS, ORDERS_INGEST, CANCELLATIONS_EVENTS, CANCELLATIONS_REQUESTS, PAYMENTS_COMMANDS]
    assert sorted(PERSONAL_DATA_TOPICS) == sorted([*sources, *(dlq(topic) for topic in sources)])
    assert set(ALL_TOPICS) > PERSONAL_DATA_TOPICS


@pytest.mark.parametrize("topic", sorted(PERSONAL_DATA_TOPICS))
def test_a_personal_data_topic_deletes_after_the_retention_given_and_rolls_its_segments_within_it(topic: str) -> None:
    configs = topic_configs(topic, timedelta(hours=48))
    assert configs["cleanup.policy"] == "delete"
    assert int(configs["retention.ms"]) == 48 * HOUR_MS
    assert int(configs["segment.ms"]) * 7 <= 48 * HOUR_MS
    assert int(topic_configs(topic)["retention.ms"]) == 7 * 24 * HOUR_MS, "7 days unless told otherwise"


@pytest.mark.parametrize("topic", [ANONYMIZATION_EVENTS, WEBHOOKS_EVENTS, dlq(WEBHOOKS_EVENTS)])
def test_the_other_topics_keep_their_events_longer(topic: str) -> None:
    configs = topic_configs(topic, timedelta(hours=48))
    assert (configs["cleanup.policy"], int(configs["retention.ms"])) == ("delete", 14 * 24 * HOUR_MS)
    assert "segment.ms" not in configs


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "7d", "٣", "8761", "99999999999999999999"])
def test_a_retention_that_is_not_whole_hours_in_range_is_refused_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PERSONAL_DATA_RETENTION_VARIABLE, value)
    with pytest.raises(ProvisionError, match=f"{PERSONAL_DATA_RETENTION_VARIABLE} must be a whole number of hours"):
        personal_data_retention()


@pytest.mark.parametrize(("value", "hours"), [("", 168), ("1", 1), (" 72 ", 72), ("8760", 8760)])
def test_a_retention_in_whole_hours_is_taken(value: str, hours: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PERSONAL_DATA_RETENTION_VARIABLE, value)
    assert personal_data_retention() == timedelta(hours=hours)
