"""The event log's erasure window (issue 10, must-show 6), read back from the real broker: every topic
that carries personal data, and its dead-letter topic, deletes events after the bounded retention
(7 days unless KAFKA_PERSONAL_DATA_RETENTION_HOURS says otherwise) and is never compacted; provisioning
sets it on topics that already exist with another retention or compaction."""

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy.provision import PERSONAL_DATA_RETENTION_VARIABLE, provision_topics
from shared.topics import ALL_TOPICS, PERSONAL_DATA_TOPICS
from tests.support.polling import eventually

WEEK_MS = 7 * 24 * 3600 * 1000
# What a topic made by hand, or by an older version, might have: kept for ever, compacted.
LAX = {"cleanup.policy": "compact", "retention.ms": "-1"}


@pytest.fixture
async def admin(stack: tuple[str, str]) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=stack[1])
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def reprovisioned(stack: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Whatever a test does to the topics' configs, provisioning with the defaults puts them back."""
    yield
    monkeypatch.delenv(PERSONAL_DATA_RETENTION_VARIABLE, raising=False)
    await provision_topics(stack[1])


async def read_configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configs as the broker reports them now."""
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics])
    configs = {}
    for error_code, error_message, _, name, entries in response.resources:
        assert error_code == 0, f"{name}: {error_message}"
        configs[name] = {entry[0]: entry[1] for entry in entries}
    return configs


async def test_provisioned_topics_read_back_with_the_bounded_retention_and_no_compaction(
    stack: tuple[str, str], admin: AIOKafkaAdminClient
) -> None:
    configs = await read_configs(admin, list(ALL_TOPICS))

    for topic in PERSONAL_DATA_TOPICS:
        assert configs[topic]["cleanup.policy"] == "delete", topic
        assert int(configs[topic]["retention.ms"]) == WEEK_MS, topic
        # A record outlives the retention by its segment's span at most: a day here.
        assert int(configs[topic]["segment.ms"]) == WEEK_MS // 7, topic
    for topic in set(ALL_TOPICS) - PERSONAL_DATA_TOPICS:
        assert configs[topic]["cleanup.policy"] == "delete", topic
        assert int(configs[topic]["retention.ms"]) == 2 * WEEK_MS, topic


async def test_provisioning_bounds_existing_topics_kept_longer_or_compacted_with_the_configured_retention(
    stack: tuple[str, str], admin: AIOKafkaAdminClient, monkeypatch: pytest.MonkeyPatch, reprovisioned: None
) -> None:
    personal = sorted(PERSONAL_DATA_TOPICS)
    await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, LAX) for topic in personal])

    def settings(configs: dict[str, dict[str, str]]) -> set[tuple[str, str]]:
        return {(one["cleanup.policy"], one["retention.ms"]) for one in configs.values()}

    # The controller has taken the change when alter_configs returns; the broker answering may show it
    # a moment later.
    await eventually(lambda: read_configs(admin, personal), lambda found: settings(found) == {("compact", "-1")})

    monkeypatch.setenv(PERSONAL_DATA_RETENTION_VARIABLE, "48")
    await provision_topics(stack[1])

    two_days = str(48 * 3600 * 1000)
    configs = await eventually(
        lambda: read_configs(admin, list(ALL_TOPICS)),
        lambda found: all(found[topic]["retention.ms"] == two_days for topic in personal),
    )
    for topic in personal:
        assert configs[topic]["cleanup.policy"] == "delete", topic
        assert int(configs[topic]["retention.ms"]) == 48 * 3600 * 1000, topic
        assert int(configs[topic]["segment.ms"]) == 48 * 3600 * 1000 // 7, topic
        assert int(configs[topic]["max.message.bytes"]) > 0, topic
    for topic in set(ALL_TOPICS) - PERSONAL_DATA_TOPICS:
        assert int(configs[topic]["retention.ms"]) == 2 * WEEK_MS, "only the personal-data topics follow the setting"
