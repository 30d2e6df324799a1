"""Keyset pagination cursors for listings ordered newest first by (created_at, id): an opaque
URL-safe token of the last row's position, and its reading back, refusing (422 `validation_error`
on `cursor`) any token this API did not give."""

import base64
import binascii
from datetime import datetime

from shared.problems import invalid_field

# What a cursor query parameter looks like (for `Query(pattern=...)`).
CURSOR_PATTERN = r"^[A-Za-z0-9_=-]+$"
CURSOR_MAX_LENGTH = 200


def encode_cursor(created_at: datetime, row_id: object) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(created_at, id as text) of a cursor `encode_cursor` gave; the problem otherwise."""
    try:
        created_at, separator, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        position = datetime.fromisoformat(created_at)
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_field("cursor", "is not a cursor this API gave") from None
    if not separator or not row_id or position.tzinfo is None:
        raise invalid_field("cursor", "is not a cursor this API gave")
    return position, row_id
