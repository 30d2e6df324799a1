"""Keyset pagination cursors for listings ordered newest first by (created_at, id): an opaque
URL-safe token of the last row's position, and its reading back, refusing (422 `validation_error`
on `cursor`) any token this API did not give."""

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from shared.problems import invalid_field

# What a cursor query parameter looks like (for `Query(pattern=...)`).
CURSOR_PATTERN = r"^[A-Za-z0-9_=-]+$"
CURSOR_MAX_LENGTH = 200

IdT = TypeVar("IdT")


def encode_cursor(created_at: datetime, row_id: object) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str, parse_id: Callable[[str], IdT]) -> tuple[datetime, IdT]:
    """(created_at, id) of a cursor `encode_cursor` gave, the id read by `parse_id` (a ValueError for
    text that is no id); the problem otherwise."""
    try:
        created_at, separator, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        position = datetime.fromisoformat(created_at)
        if not separator or position.tzinfo is None:
            raise ValueError("no position")
        return position, parse_id(row_id)
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid_field("cursor", "is not a cursor this API gave") from None


def digits_id(text: str) -> int:
    """An integer id as `encode_cursor` writes one: ASCII digits only (`int` would take "²" or " 7")."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is no id")
    return int(text)
