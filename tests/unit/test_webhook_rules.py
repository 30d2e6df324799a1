"""Webhook signing, filters and retry schedule (services/webhook_dispatcher/domain.py)."""

import base64
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhook_dispatcher.domain import (
    generate_secret,
    matches,
    offered_event_types,
    sign,
    signatures,
    webhook_body,
)
from shared.retries import next_delay

# ---- secrets -----------------------------------------------------------------------------------


def test_secret_format() -> None:
    secret = generate_secret()

    assert secret.startswith("whsec_")
    encoded = secret.removeprefix("whsec_")
    assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", encoded)
    assert len(base64.b64decode(encoded, validate=True)) >= 24


def test_secrets_differ_every_call() -> None:
    secrets = {generate_secret() for _ in range(50)}

    assert len(secrets) == 50


def test_generated_secret_is_accepted_by_standard_webhooks() -> None:
    Webhook(generate_secret())  # raises on a malformed secret


# ---- signing -----------------------------------------------------------------------------------


def _signed_headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, message_id, stamp, body),
    }


def test_signature_verifies_with_the_reference_library() -> None:
    secret = generate_secret()
    message_id = str(uuid.uuid4())
    when = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
    body = webhook_body("order.created", when, {"order_id": 42, "total": Decimal("10.50")})

    payload = Webhook(secret).verify(body, _signed_headers(secret, message_id, body))

    assert payload == {
        "type": "order.created",
        "timestamp": "2024-05-17T09:30:00+00:00",
        "data": {"order_id": 42, "total": "10.50"},
    }


def test_signature_matches_the_reference_library_byte_for_byte() -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    body = b'{"type":"order.created","data":{}}'
    when = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)

    ours = sign(secret, "msg_1", int(when.timestamp()), body)

    assert ours == Webhook(secret).sign("msg_1", when, body.decode())
    assert ours.startswith("v1,")


def test_tampered_body_fails_verification() -> None:
    secret = generate_secret()
    body = b'{"type":"order.created","data":{"total":"10.00"}}'
    headers = _signed_headers(secret, "msg_1", body)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"10.00", b"0.01"), headers)


def test_other_secret_fails_verification() -> None:
    body = b'{"type":"order.created","data":{}}'
    headers = _signed_headers(generate_secret(), "msg_1", body)

    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_signature_covers_id_and_timestamp() -> None:
    secret = generate_secret()
    body = b"{}"
    now = int(time.time())

    base = sign(secret, "msg_1", now, body)

    assert sign(secret, "msg_2", now, body) != base
    assert sign(secret, "msg_1", now + 1, body) != base
    assert sign(secret, "msg_1", now, body) == base


def test_stale_timestamp_fails_verification() -> None:
    secret = generate_secret()
    body = b"{}"
    headers = _signed_headers(secret, "msg_1", body, timestamp=int(time.time()) - 3600)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


# ---- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "event_type"),
    [
        (["order.created"], "order.created"),
        (["order.*"], "order.created"),
        (["order.*"], "order.cancelled"),
        (["*"], "order.created"),
        (["*"], "customer.deleted"),
        ([], "order.created"),
        ([], "anything.at.all"),
        (["customer.*", "order.cancelled"], "order.cancelled"),
        (("order.created",), "order.created"),
    ],
)
def test_filter_takes(filters: list[str], event_type: str) -> None:
    assert matches(filters, (), event_type, ()) is True


@pytest.mark.parametrize(
    ("filters", "event_type"),
    [
        (["order.created"], "order.cancelled"),
        (["order.*"], "orders.created"),
        (["order.*"], "order"),
        (["order.*"], "customer.created"),
        (["order.created"], "order.created.v2"),
        (["order.created"], "order"),
        (["customer.*", "order.cancelled"], "order.created"),
        (["Order.created"], "order.created"),
    ],
)
def test_filter_refuses(filters: list[str], event_type: str) -> None:
    assert matches(filters, (), event_type, ()) is False


# ---- retry schedule ----------------------------------------------------------------------------

SCHEDULE = [5.0, 300.0, 1800.0]


@pytest.mark.parametrize("attempts_made", [1, 2, 3])
def test_delay_follows_the_schedule_within_jitter(attempts_made: int) -> None:
    expected = SCHEDULE[attempts_made - 1]
    delays = [next_delay(attempts_made, SCHEDULE) for _ in range(200)]

    seconds = [delay.total_seconds() for delay in delays if delay is not None]
    assert len(seconds) == 200
    assert all(expected * 0.9 <= value <= expected * 1.1 for value in seconds)
    assert len(set(seconds)) > 1  # jitter spreads retries


def test_delay_without_jitter_is_the_schedule() -> None:
    assert [next_delay(n, SCHEDULE, jitter=0) for n in (1, 2, 3)] == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
    ]


def test_custom_jitter_bounds() -> None:
    seconds = [d.total_seconds() for d in (next_delay(1, [100.0], jitter=0.5) for _ in range(200)) if d is not None]

    assert len(seconds) == 200
    assert all(50 <= value <= 150 for value in seconds)


@pytest.mark.parametrize("attempts_made", [4, 5, 100])
def test_spent_schedule_gives_none(attempts_made: int) -> None:
    assert next_delay(attempts_made, SCHEDULE) is None


# ---- body --------------------------------------------------------------------------------------


def test_webhook_body_shape() -> None:
    when = datetime(2024, 5, 17, 9, 30, 15, 250000, tzinfo=UTC)
    order_id = uuid.UUID("6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11")

    body = webhook_body("order.created", when, {"order_id": 42, "ref": order_id, "total": Decimal("0.30")})

    assert json.loads(body) == {
        "type": "order.created",
        "timestamp": "2024-05-17T09:30:15.250000+00:00",
        "data": {"order_id": 42, "ref": "6f1c2a54-3f59-4a55-9a3c-2b1d9b1c0e11", "total": "0.30"},
    }
    assert body.startswith(b'{"type":"order.created","timestamp":')  # compact, type first


def test_webhook_body_keeps_the_time_zone() -> None:
    when = datetime(2024, 5, 17, 16, 30, tzinfo=timezone(timedelta(hours=7)))

    assert json.loads(webhook_body("order.created", when, {}))["timestamp"] == "2024-05-17T16:30:00+07:00"


# ---- several signatures, offered event types ---------------------------------------------------


def test_signatures_carry_one_per_secret_and_each_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    body = b'{"type":"order.created","data":{}}'
    now = int(time.time())

    header = signatures([new, old], "msg_1", now, body)

    assert header.split(" ") == [sign(new, "msg_1", now, body), sign(old, "msg_1", now, body)]
    for secret in (old, new):
        Webhook(secret).verify(
            body, {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": header}
        )


def test_offered_event_types_leave_out_the_dispatchers_own() -> None:
    known = ["order.created", "webhook.message.exhausted", "cancellation.requested", "webhook.endpoint.disabled"]

    assert offered_event_types(known) == ["cancellation.requested", "order.created"]
