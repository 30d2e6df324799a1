"""Pure webhook rules: Standard Webhooks signing, event-type filters, the retry schedule."""

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from shared.events import dumps

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES: Final = 32


def generate_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def matches(event_types: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint's filter takes `event_type`: empty takes all; `order.*` takes a family."""
    if not event_types:
        return True
    for pattern in event_types:
        if pattern in (event_type, "*"):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def webhook_body(event_type: str, time: datetime, data: dict[str, Any]) -> bytes:
    """The JSON body subscribers receive: the event type, its time and its data."""
    return dumps({"type": event_type, "timestamp": time.isoformat(), "data": data}).encode()


def next_delay(attempts_made: int, schedule: Sequence[float], jitter: float = 0.1) -> timedelta | None:
    """Wait before the next try after `attempts_made` failed ones, or None when the schedule is spent.

    Jitter (+/- `jitter` of the delay) spreads retries of a burst so a recovering subscriber is not
    hit by all of them in the same second.
    """
    if attempts_made > len(schedule):
        return None
    factor = 1 + random.uniform(-jitter, jitter)  # noqa: S311 - spreading load, not security
    return timedelta(seconds=schedule[attempts_made - 1] * factor)
