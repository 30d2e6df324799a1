"""Keyset cursors (shared/keyset.py): a cursor the API gave reads back to its position; anything else,
including a well-formed position whose id is not the listing's kind of id, is the 422 problem on
`cursor`, never an error the route did not expect."""

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.keyset import decode_cursor, digits_id, encode_cursor
from shared.problems import Problem

AT = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(("row_id", "parse"), [(1000000042, digits_id), (uuid.uuid4(), uuid.UUID)])
def test_a_cursor_reads_back_to_its_position(row_id: Any, parse: Callable[[str], Any]) -> None:
    assert decode_cursor(encode_cursor(AT, row_id), parse) == (AT, row_id)


@pytest.mark.parametrize(
    ("cursor", "parse"),
    [
        ("bm90LWEtY3Vyc29y", digits_id),  # base64 of no position
        (_token(f"{AT.isoformat()}|²"), digits_id),  # a digit int() reads, not one the API writes
        (_token(f"{AT.isoformat()}| 7"), digits_id),
        (_token(f"{AT.isoformat()}|"), digits_id),
        (_token(f"{AT.isoformat()}|42"), uuid.UUID),  # another listing's kind of id
        (_token("2024-05-17T09:30:00|42"), digits_id),  # a time without its zone
        ("%%%", digits_id),
    ],
)
def test_anything_else_is_the_cursor_problem(cursor: str, parse: Callable[[str], Any]) -> None:
    with pytest.raises(Problem) as refused:
        decode_cursor(cursor, parse)
    assert refused.value.status == 422
    assert refused.value.errors == [{"field": "cursor", "message": "is not a cursor this API gave"}]
