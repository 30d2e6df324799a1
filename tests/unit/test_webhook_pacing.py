"""Per-endpoint pacing: the rate limit's token bucket and the circuit breaker (domain.py)."""

import pytest

from services.webhook_dispatcher.domain import CircuitBreaker, TokenBucket


def test_a_bucket_lets_a_burst_of_rate_through_then_spaces_requests() -> None:
    bucket = TokenBucket(rate=5, now=0.0)

    burst = [bucket.wait_for_token(0.0) for _ in range(5)]
    waits = [bucket.wait_for_token(0.0) for _ in range(3)]

    assert burst == [0.0] * 5
    assert waits == pytest.approx([0.2, 0.4, 0.6])


def test_a_bucket_refills_with_time_up_to_its_rate() -> None:
    bucket = TokenBucket(rate=2, now=0.0)
    for _ in range(2):
        bucket.wait_for_token(0.0)

    assert bucket.wait_for_token(0.5) == 0.0  # one token back after half a second
    assert bucket.wait_for_token(0.5) == pytest.approx(0.5)
    later = TokenBucket(rate=2, now=0.0)
    assert [later.wait_for_token(100.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])  # no hoarding


def test_a_paced_sequence_never_exceeds_the_rate() -> None:
    bucket = TokenBucket(rate=10, now=0.0)
    now, sends = 0.0, []
    for _ in range(100):
        now += bucket.wait_for_token(now)
        sends.append(now)

    window = [t for t in sends if 5.0 <= t < 6.0]
    assert len(window) <= 10


def test_the_breaker_opens_after_the_threshold_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=30.0)
    for _ in range(2):
        breaker.record(False, now=0.0)

    assert not breaker.is_open(0.0)
    breaker.record(False, now=1.0)
    assert breaker.is_open(1.0)
    assert breaker.is_open(30.9)
    assert not breaker.is_open(31.0)  # half-open: tries resume


def test_a_success_closes_the_breaker_and_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=10.0)
    breaker.record(False, now=0.0)
    breaker.record(True, now=0.0)
    breaker.record(False, now=0.0)

    assert not breaker.is_open(0.0)
    breaker.record(False, now=0.0)
    assert breaker.is_open(0.0)
    breaker.record(True, now=11.0)
    assert not breaker.is_open(11.0)


def test_a_failed_try_after_the_cooldown_opens_it_again() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown=10.0)
    for _ in range(2):
        breaker.record(False, now=0.0)

    breaker.record(False, now=10.0)

    assert breaker.is_open(15.0)
