"""How an attempt's answer settles its message: the settle rule and `Retry-After`
(services/webhook_dispatcher/domain.py)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from services.webhook_dispatcher.domain import parse_retry_after, settle

HOUR = timedelta(hours=1)


# ---- Retry-After -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", timedelta(seconds=120)), ("0", timedelta(0)), (" 7 ", timedelta(seconds=7)), ("86400", timedelta(days=1))],
)
def test_retry_after_in_seconds(value: str, expected: timedelta) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_a_future_http_date() -> None:
    value = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)

    delay = parse_retry_after(value)

    assert delay is not None
    assert timedelta(seconds=115) <= delay <= timedelta(seconds=120)


def test_retry_after_as_a_past_http_date_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == timedelta(0)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "2 minutes", "Wed, 99 Foo 2015"])
def test_retry_after_garbage_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("value", ["99999999999999999999", "100000000000000", "\u00b2"])
def test_absurd_retry_after_does_not_raise_and_is_clamped(value: str) -> None:
    outcome, delay = settle(1, 503, parse_retry_after(value), [1, 2])

    assert outcome == "pending"
    assert delay is not None
    assert delay <= HOUR


# ---- settle ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert settle(1, status, None, [1, 2]) == ("delivered", None)


def test_2xx_on_the_last_allowed_attempt_is_delivered() -> None:
    assert settle(3, 200, None, [1, 2]) == ("delivered", None)


def test_410_fails_at_once() -> None:
    assert settle(1, 410, None, [1, 2]) == ("failed", None)
    assert settle(1, 410, timedelta(seconds=30), [1, 2]) == ("failed", None)


@pytest.mark.parametrize(("attempt", "scheduled"), [(1, 1.0), (2, 2.0)])
@pytest.mark.parametrize("status", [500, 502, 404, 400, 301, None])
def test_other_answers_are_retried_per_schedule(attempt: int, scheduled: float, status: int | None) -> None:
    outcome, delay = settle(attempt, status, None, [1, 2])

    assert outcome == "pending"
    assert delay is not None
    assert scheduled * 0.9 <= delay.total_seconds() <= scheduled * 1.1


@pytest.mark.parametrize("status", [500, 429, 503, None])
def test_exhausted_schedule_fails(status: int | None) -> None:
    assert settle(3, status, timedelta(seconds=10), [1, 2]) == ("failed", None)


def test_default_schedule_allows_eight_attempts() -> None:
    schedule = [5, 300, 1800, 7200, 18000, 36000, 36000]

    assert [settle(n, 500, None, schedule)[0] for n in range(1, 9)] == ["pending"] * 7 + ["failed"]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (timedelta(seconds=120), timedelta(seconds=120)),
        (timedelta(0), timedelta(seconds=1)),
        (timedelta(milliseconds=200), timedelta(seconds=1)),
        (timedelta(days=7), HOUR),
        (timedelta(hours=1), HOUR),
    ],
)
def test_retry_after_is_honoured_within_bounds(status: int, retry_after: timedelta, expected: timedelta) -> None:
    assert settle(1, status, retry_after, [1, 2]) == ("pending", expected)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_without_retry_after_follows_schedule(status: int) -> None:
    outcome, delay = settle(2, status, None, [10, 20])

    assert outcome == "pending"
    assert delay is not None
    assert 18 <= delay.total_seconds() <= 22


@pytest.mark.parametrize("status", [500, 502])
def test_retry_after_is_ignored_for_other_errors(status: int) -> None:
    outcome, delay = settle(1, status, timedelta(minutes=30), [10, 20])

    assert outcome == "pending"
    assert delay is not None
    assert 9 <= delay.total_seconds() <= 11
