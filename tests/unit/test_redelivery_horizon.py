"""The redelivery horizon from topics' configs: the longest retention plus its segment span, with slack;
none while a topic keeps its records for ever."""

from datetime import timedelta

from shared.redelivery import SLACK, horizon_of
from shared.topics import RETENTION, topic_configs

DAY_MS = 24 * 3600 * 1000


def test_the_horizon_is_the_longest_retention_and_segment_span_of_the_topics() -> None:
    personal = topic_configs("orders.ingest")  # 7 days in segments of one day
    other = {**topic_configs("webhooks.events"), "segment.ms": str(7 * DAY_MS)}  # the broker's default segment

    assert horizon_of([personal]) == timedelta(days=8) + SLACK
    assert horizon_of([personal, other]) == RETENTION + timedelta(days=7) + SLACK


def test_a_topic_kept_for_ever_has_no_horizon() -> None:
    kept = {"retention.ms": "-1", "segment.ms": str(DAY_MS)}

    assert horizon_of([topic_configs("orders.ingest"), kept]) is None
