"""python -m deploy.dlq's arguments: topics, dead letters and times it cannot use are refused saying
what to give instead (exit status 2, nothing read or replayed)."""

import pytest

from deploy.dlq.__main__ import main
from deploy.dlq.letters import dead_letter_topic


def test_a_topic_is_named_by_its_event_topic_or_its_dead_letter_topic() -> None:
    assert dead_letter_topic("orders.ingest") == dead_letter_topic("orders.ingest.dlq") == "orders.ingest.dlq"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["list", "orders.nope"], "unknown topic 'orders.nope': name one of orders.events"),
        (["show", "orders.ingest", "17"], "name a dead letter as PARTITION:OFFSET, such as 3:17"),
        (["show", "orders.ingest", "a:b"], "name a dead letter as PARTITION:OFFSET"),
    ],
)
def test_what_names_nothing_is_refused_with_what_to_give(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert said in capsys.readouterr().err


def test_a_time_without_its_offset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["replay", "orders.ingest", "--since", "2026-11-30T06:00:00"])
    assert refused.value.code == 2
    assert "has no UTC offset: add Z or +HH:MM" in capsys.readouterr().err
