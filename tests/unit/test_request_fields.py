"""The shared request-field types (shared/fields.py): what they let through and what they refuse."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from shared.fields import MAX_BIGINT, BigintId, HeaderValue, StorableText, UtcDatetime, is_header_value


class _Fields(BaseModel):
    text: StorableText = ""
    id: BigintId = 1
    time: UtcDatetime | None = None
    header: HeaderValue = ""


def _refusal(**fields: object) -> str:
    with pytest.raises(ValidationError) as refused:
        _Fields.model_validate(fields)
    [error] = refused.value.errors()
    return f"{error['loc'][0]}: {error['msg']}"


@pytest.mark.parametrize(
    ("text", "says"),
    [("a\x00b", "contains a NUL character"), ("a\ud800b", "contains a lone surrogate")],
)
def test_text_postgres_cannot_store_is_refused(text: str, says: str) -> None:
    assert says in _refusal(text=text)


def test_any_other_text_is_storable() -> None:
    assert _Fields(text="Grüße, 東京 🎉\t\n").text == "Grüße, 東京 🎉\t\n"


@pytest.mark.parametrize("value", [0, -1, MAX_BIGINT + 1, 2**64])
def test_ids_outside_postgres_bigint_are_refused(value: int) -> None:
    assert _refusal(id=value).startswith("id: ")


def test_ids_up_to_the_largest_bigint_are_taken() -> None:
    assert _Fields(id=MAX_BIGINT).id == MAX_BIGINT


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00"])
def test_times_that_leave_years_1_to_9999_in_utc_are_refused(value: str) -> None:
    assert _refusal(time=value) == "time: Value error, is outside the years 1 to 9999 in UTC"


def test_times_without_an_offset_are_refused() -> None:
    assert _refusal(time="2024-05-17T09:30:00").startswith("time: ")


def test_times_are_converted_to_utc() -> None:
    time = _Fields(time="2024-05-17T09:30:00+02:00").time

    assert time == datetime(2024, 5, 17, 7, 30, tzinfo=UTC)
    assert time is not None
    assert time.utcoffset() == timedelta(0)
    assert _Fields(time=datetime(1, 1, 1, 14, tzinfo=timezone(timedelta(hours=14)))).time == datetime(
        1, 1, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "value", ["", "acme", "Bearer abc.def-ghi_jkl~", "a b\tc", "!\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~"]
)
def test_printable_ascii_header_values_are_taken(value: str) -> None:
    assert is_header_value(value)
    assert _Fields(header=value).header == value


@pytest.mark.parametrize(
    "value",
    ["café", "\u00a0x", "a\x00b", "a\ud800", "line\r\nInjected: yes", "tab\x7f", " leading", "trailing ", "end\n"],
)
def test_header_values_an_http_client_cannot_send_are_refused(value: str) -> None:
    assert not is_header_value(value)
    assert "an HTTP header value" in _refusal(header=value)
