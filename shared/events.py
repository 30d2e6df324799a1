"""The event contract: a CloudEvents 1.0 envelope in Kafka binary mode and a pydantic model per type.

Binary mode puts the envelope's attributes in `ce_*` headers and the data alone, as JSON, in the
value, so consumers can route and de-duplicate on headers without parsing bodies. The models in
shared.event_types are the contract. A consumer that acts on the data decodes an `Event` (its type
must be known, its data valid); one that only passes events on decodes the `Envelope`, which keeps
the data exactly as it was published, whatever its type.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, TypeVar

from pydantic import ValidationError
from pydantic_core import from_json, to_json

from shared.channels import event_channels
from shared.event_types import EVENT_DATA_MODELS
from shared.logging import usable_correlation_id
from shared.orders import Snapshot

SPECVERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"
# A CloudEvents extension attribute: the event's channels (shared/channels.py) as a JSON array of
# strings; absent when it has none.
CHANNELS_HEADER: Final = "ce_channels"

Headers = Sequence[tuple[str, bytes]]
T = TypeVar("T")


class InvalidEvent(ValueError):
    """A message that is not a well-formed event of a known type; it can never be processed."""


# ---- the envelope ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """A CloudEvent with validated data."""

    id: uuid.UUID
    type: str
    source: str
    subject: str  # the order id: also the Kafka key, so an order's events stay in one partition
    time: datetime
    data: Snapshot
    sequence: int | None = None
    correlation_id: str | None = None
    channels: tuple[str, ...] = ()  # shared/channels.py: set by `new` from the data
    # The body, serialized on first use and kept, so that a producer checking its size and the outbox
    # storing it work from the same bytes, made once.
    _body: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def new(
        cls,
        type_: str,
        source: str,
        subject: str,
        data: Snapshot,
        *,
        sequence: int | None = None,
        correlation_id: str | None = None,
        body: bytes | None = None,
    ) -> "Event":
        """A new event of `type_`; `body`, when the caller has it already, is `data` serialized exactly
        as `data.model_dump_json()` writes it (the body is then not made again)."""
        expected = EVENT_DATA_MODELS.get(type_)
        if expected is None or not isinstance(data, expected):
            raise TypeError(f"{type_!r} carries {expected!r}, not {type(data)!r}")
        event = cls(
            uuid.uuid4(),
            type_,
            source,
            subject,
            datetime.now(UTC),
            data,
            sequence,
            correlation_id,
            event_channels(data),
        )
        if body is not None:
            object.__setattr__(event, "_body", body)  # frozen: set once, as body() would
        return event

    @property
    def key(self) -> bytes:
        return self.subject.encode()

    def headers(self) -> list[tuple[str, bytes]]:
        return [(name, value.encode()) for name, value in self.header_texts()]

    def header_texts(self) -> list[tuple[str, str]]:
        """The record headers, as text (the outbox stores them so)."""
        pairs = [
            ("ce_specversion", SPECVERSION),
            ("ce_id", str(self.id)),
            ("ce_type", self.type),
            ("ce_source", self.source),
            ("ce_subject", self.subject),
            ("ce_time", self.time.isoformat()),
            ("content-type", CONTENT_TYPE),
        ]
        if self.sequence is not None:
            pairs.append(("ce_sequence", str(self.sequence)))
        if self.correlation_id:
            pairs.append(("ce_correlationid", self.correlation_id))
        if self.channels:
            pairs.append((CHANNELS_HEADER, to_json(self.channels).decode()))
        return pairs

    def body(self) -> bytes:
        body = self._body
        if body is None:
            body = self.data.model_dump_json().encode()
            object.__setattr__(self, "_body", body)  # frozen: set once, the data is frozen too
        return body


def _header_map(headers: Headers) -> dict[str, str]:
    try:
        return {name: value.decode() for name, value in headers if value is not None}
    except UnicodeDecodeError as error:
        raise InvalidEvent(f"a header is not UTF-8: {error}") from error


@dataclass(frozen=True, slots=True)
class Envelope:
    """A CloudEvent's attributes and its data as published: JSON, of any type, known to this build
    or not."""

    id: uuid.UUID
    type: str
    source: str
    subject: str
    time: datetime
    sequence: int | None
    correlation_id: str | None
    data_json: bytes
    channels: tuple[str, ...] = ()


def decode_envelope(headers: Headers, value: bytes | None) -> Envelope:
    """Parse a Kafka record's CloudEvents attributes and check that its data is a JSON object, or
    raise InvalidEvent saying what is wrong. The data's type need not be known."""
    attributes = _header_map(headers)
    missing = [
        name
        for name in ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time")
        if not attributes.get(name)
    ]
    if missing:
        raise InvalidEvent(f"missing CloudEvents header(s): {', '.join(missing)}")
    if attributes["ce_specversion"] != SPECVERSION:
        raise InvalidEvent(f"unsupported ce_specversion {attributes['ce_specversion']!r}")
    event_id = _parse_attribute(attributes, "ce_id", uuid.UUID)
    time = _parse_attribute(attributes, "ce_time", datetime.fromisoformat)
    sequence = _parse_attribute(attributes, "ce_sequence", int) if "ce_sequence" in attributes else None
    if time.tzinfo is None:
        raise InvalidEvent("ce_time has no time zone")
    if value is None:
        raise InvalidEvent("the message has no body")
    return Envelope(
        event_id,
        attributes["ce_type"],
        attributes["ce_source"],
        attributes["ce_subject"],
        time,
        sequence,
        # Another service's id that could not travel on (into our events, to subscribers) is dropped.
        usable_correlation_id(attributes.get("ce_correlationid")),
        value,
        _channels(attributes.get(CHANNELS_HEADER)),
    )


def decode_event(headers: Headers, value: bytes | None) -> Event:
    """Parse a Kafka record into an Event of a known type with valid data, or raise InvalidEvent
    saying what is wrong."""
    envelope = decode_envelope(headers, value)
    model = EVENT_DATA_MODELS.get(envelope.type)
    if model is None:
        raise InvalidEvent(f"unknown event type {envelope.type!r}")
    try:
        data = model.model_validate_json(envelope.data_json)
    except ValidationError as error:
        raise InvalidEvent(f"{envelope.type} data is invalid: {_summarise(error)}") from error
    return Event(
        envelope.id,
        envelope.type,
        envelope.source,
        envelope.subject,
        envelope.time,
        data,
        envelope.sequence,
        envelope.correlation_id,
        envelope.channels,
    )


def decode_forwardable(headers: Headers, value: bytes | None) -> Envelope:
    """`decode_envelope`, for an event to pass on as published: its data must be a JSON object, of
    any type, known to this build or not."""
    envelope = decode_envelope(headers, value)
    try:
        parsed = from_json(envelope.data_json)
    except ValueError as error:
        raise InvalidEvent(f"{envelope.type} data is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise InvalidEvent(f"{envelope.type} data is not a JSON object")
    return envelope


def _channels(header: str | None) -> tuple[str, ...]:
    """The channels a `ce_channels` header names (none when it is absent, as before channels were)."""
    if header is None:
        return ()
    try:
        channels = from_json(header)
    except ValueError as error:
        raise InvalidEvent(f"malformed {CHANNELS_HEADER} {header!r}: {error}") from error
    if not isinstance(channels, list) or not all(isinstance(channel, str) for channel in channels):
        raise InvalidEvent(f"malformed {CHANNELS_HEADER} {header!r}: not a JSON array of strings")
    return tuple(channels)


def _parse_attribute(attributes: dict[str, str], name: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(attributes[name])
    except ValueError as error:
        raise InvalidEvent(f"malformed {name} {attributes[name]!r}: {error}") from error


def _summarise(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '<body>'}: {item['msg']}" for item in error.errors()[:5]
    )
