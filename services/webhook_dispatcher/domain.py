"""Pure webhook rules: signing, how an attempt settles its message, event-type filters, safe destinations,
pacing, what an anonymized order's stored messages may still say; and the types the use cases speak in."""

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any, Final, Literal, NamedTuple, Protocol

import httpx

from services.webhook_dispatcher import asymmetric
from shared.consumer_handlers import Received
from shared.erasure import MASK
from shared.json_codec import dumps
from shared.retries import next_delay

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES: Final = 32


# How an endpoint's deliveries are signed: Standard Webhooks `v1` (HMAC, a shared secret) or `v1a`
# (ed25519: the receiver verifies with the public key, and cannot sign).
Signing = Literal["hmac-sha256", "ed25519"]


def generate_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_signing_key(signing: Signing) -> str:
    """A new key for an endpoint signed by `signing`: an HMAC secret or an ed25519 secret key."""
    return asymmetric.generate_secret_key() if signing == "ed25519" else generate_secret()


def signing_of(public_key: str | None) -> Signing:
    """How an endpoint with this public key (None: it has none) is signed."""
    return "hmac-sha256" if public_key is None else "ed25519"


def public_key_of(secret: str) -> str | None:
    """The public key receivers verify with: an ed25519 key's; None for an HMAC secret."""
    return asymmetric.public_key(secret) if asymmetric.is_secret_key(secret) else None


def shown_secret(secret: str) -> str | None:
    """What the admin API may show of a new key: an HMAC secret, which the receiver needs; never an
    ed25519 secret key, which only the dispatcher holds."""
    return None if asymmetric.is_secret_key(secret) else secret


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, or for an
    ed25519 secret key `v1a,` + base64 of its signature of the same."""
    if asymmetric.is_secret_key(secret):
        return asymmetric.sign(secret, message_id, timestamp, body)
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Channelled(Received, Protocol):
    """An event as its messages are written: what the consumer reads of it, and its channels (written
    with each message, so that messages can be listed by channel)."""

    @property
    def channels(self) -> Sequence[str]: ...


def matches(
    event_types: Sequence[str], channels: Sequence[str], event_type: str, event_channels: Sequence[str]
) -> bool:
    """Whether an endpoint's filter takes an event of `event_type` carrying `event_channels`. Its types:
    empty takes all, `order.*` takes a family. Its channels: empty takes any event (with channels or
    none), otherwise only an event carrying at least one of them."""
    if channels and not any(channel in event_channels for channel in channels):
        return False
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
    return forwarded_body(event_type, time, dumps(data).encode())


def forwarded_body(event_type: str, time: datetime, data_json: bytes) -> bytes:
    """`webhook_body` around data that is JSON already (an event's, exactly as it was published), so
    a subscriber gets every field of it, those this build does not know too."""
    return (
        b"".join(
            (b'{"type":', dumps(event_type).encode(), b',"timestamp":', dumps(time.isoformat()).encode(), b',"data":')
        )
        + data_json
        + b"}"
    )


def signatures(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per valid secret (HMAC or ed25519 alike),
    space-separated, so a receiver holding either the new or the previous key verifies during a
    rotation."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


# ---- deliveries: a claimed message, its attempt's answer, how that settles the message -----------


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed message, with what is needed to send it."""

    message_id: int
    event_id: uuid.UUID
    event_type: str
    correlation_id: str | None
    payload: bytes
    attempt: int
    endpoint_id: uuid.UUID
    url: str
    secret: str
    order_id: str = ""
    # Signs beside `secret` while a rotation's grace period lasts.
    previous_secret: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    rate_limit: int | None = None
    ordered: bool = False  # its endpoint's: the next message of its order waits for it
    # The trace context the message was fanned out in (shared/tracing.py), sent on with each attempt.
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What an attempt got: the status, the start of the body and `Retry-After`, or the error that kept
    the request from being made."""

    status: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: timedelta | None = None


class Written(NamedTuple):
    """What one fan-out wrote: how many messages, those of them it leased to this instance's sender
    (handoff.py), its transaction's id, as the NOTIFY on its commit names it, and the events it recorded
    as processed when it wrote their tracking rows too (shared/tracking.py)."""

    transaction: str
    inserted: int
    leased: list[Delivery]
    recorded: frozenset[uuid.UUID] = frozenset()


class DeliveredAttempt(NamedTuple):
    """A delivered attempt, recorded with others in one statement (settling.py)."""

    delivery: Delivery
    answer: Answer
    latency_ms: int


MessageStatus = Literal["pending", "delivered", "failed"]


class Settlement(NamedTuple):
    """A message's status after an attempt, and the wait before its next try when it is pending."""

    status: MessageStatus
    retry_in: timedelta | None


# A subscriber's Retry-After is honoured within these bounds, so neither a zero nor a week stalls us.
RETRY_AFTER_MIN: Final = timedelta(seconds=1)
RETRY_AFTER_MAX: Final = timedelta(hours=1)
GONE: Final = 410  # the subscriber says the endpoint is gone for good


def settle(attempt: int, status: int | None, retry_after: timedelta | None, schedule: Sequence[float]) -> Settlement:
    """How the answer to a message's `attempt`-th try settles it: 2xx delivers; 410 fails it at once;
    anything else (no answer at all included) waits for the retry `schedule`'s next delay, or a
    429/503's `Retry-After` within bounds, and fails it once the schedule is spent."""
    if status is not None and 200 <= status < 300:
        return Settlement("delivered", None)
    if status == GONE:
        return Settlement("failed", None)
    delay = next_delay(attempt, schedule)
    if delay is None:
        return Settlement("failed", None)
    if status in (429, 503) and retry_after is not None:
        delay = min(max(retry_after, RETRY_AFTER_MIN), RETRY_AFTER_MAX)
    return Settlement("pending", delay)


def parse_retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit():
        try:
            return timedelta(seconds=int(text))
        except OverflowError:  # more seconds than a timedelta holds: the longest wait we honour
            return RETRY_AFTER_MAX
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when - when.now(when.tzinfo), timedelta(0))


class EndpointNotFound(LookupError):
    def __init__(self, endpoint_id: uuid.UUID) -> None:
        super().__init__(f"There is no webhook endpoint {endpoint_id}.")
        self.endpoint_id = endpoint_id


class UnknownEventTypes(ValueError):
    """An endpoint's filter names event types, or families, that no subscriber can receive."""

    def __init__(self, filters: Sequence[str]) -> None:
        super().__init__(f"No event type is named by {', '.join(filters)}.")
        self.filters = list(filters)


class ChannelsOnOperational(ValueError):
    """An operator endpoint given channels: operational events carry none, so it would receive nothing."""

    def __init__(self) -> None:
        super().__init__("An operator endpoint receives operational events, which carry no channel.")


def check_channels(channels: Sequence[str], *, operational: bool) -> None:
    """Refuse (ChannelsOnOperational) channels on an operator endpoint: a filter that matches nothing."""
    if operational and channels:
        raise ChannelsOnOperational


class EventTypeNotFound(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"There is no event type {name!r} to subscribe to.")
        self.name = name


class MessageNotFound(LookupError):
    def __init__(self, endpoint_id: uuid.UUID, message_id: int) -> None:
        super().__init__(f"Endpoint {endpoint_id} has no message {message_id}.")
        self.endpoint_id = endpoint_id
        self.message_id = message_id


class MessagePending(RuntimeError):
    """A message still to be sent (or being sent) keeps its payload: it cannot be expunged."""

    def __init__(self, message_id: int) -> None:
        super().__init__(
            f"Message {message_id} is still pending delivery (due, being sent or waiting for a retry); its payload "
            "can be expunged once it is delivered or has failed."
        )


class PayloadExpunged(RuntimeError):
    """A message whose payload was expunged has nothing left to send."""

    def __init__(self, message_id: int) -> None:
        super().__init__(f"Message {message_id}'s payload was expunged; it cannot be sent again.")


# ---- event types -------------------------------------------------------------------------------

# The dispatcher's own operational events are for operators, not for subscribers.
INTERNAL_FAMILIES: Final = ("webhook.",)


def offered_event_types(known_types: Iterable[str]) -> list[str]:
    """The customer-facing event types subscribers may ask for, sorted."""
    return sorted(t for t in known_types if not t.startswith(INTERNAL_FAMILIES))


# ---- erasure: an anonymized order's stored messages ---------------------------------------------


class MaskedOrder(NamedTuple):
    """What `order.anonymized` carries: the masked snapshot (JSON as published) and its sequence."""

    sequence: int
    snapshot: bytes


def masked_order(data_json: bytes) -> MaskedOrder:
    """The masked snapshot of an `order.anonymized` event's data; ValueError if the data has none."""
    try:
        data = json.loads(data_json)
        return MaskedOrder(int(data["sequence"]), dumps(data["order"]).encode())
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"no masked order in the data: {error}") from error


def erased_payload(payload: bytes, masked: MaskedOrder) -> bytes | None:
    """A stored message body of the anonymized order with its personal data gone, or None when it holds
    none: an order snapshot older than the anonymization becomes the masked one (later ones are masked
    already), what a guest wrote (`description`) becomes `*` and an IBAN ending (`iban_last4`) goes, as
    the cancellation worker keeps its requests. Everything else (type, time, ids, money) is kept."""
    body = json.loads(payload)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    changed = False
    sequence = data.get("sequence")
    if isinstance(data.get("order"), dict) and not (isinstance(sequence, int) and sequence >= masked.sequence):
        order = json.loads(masked.snapshot)
        changed = data["order"] != order
        data["order"] = order
    if data.get("description") not in (None, MASK):
        data["description"], changed = MASK, True
    if data.get("iban_last4") is not None:
        data["iban_last4"], changed = None, True
    return dumps(body).encode() if changed else None


# ---- destinations (SSRF) -----------------------------------------------------------------------

IPAddress = IPv4Address | IPv6Address
Subnet = IPv4Network | IPv6Network

# Cloud instance metadata services: never a subscriber, whatever else the address is.
METADATA_ADDRESSES: Final = frozenset({ip_address("169.254.169.254"), ip_address("fd00:ec2::254")})
# The schemes webhooks may use, and the port each connects to when the URL names none.
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_PORT: Final = 65535


class UnsafeDestination(ValueError):
    """A webhook URL the dispatcher refuses to send to."""


def address_refusal(address: IPAddress, allowed: Sequence[Subnet]) -> str | None:
    """What kind of forbidden address `address` is (e.g. "a private address"), or None when the
    dispatcher may connect to it."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, IPv6Address) and address.sixtofour is not None:
        # A 6to4 address (2002::/16) is relayed to the IPv4 address inside it: judged as that one.
        # (Teredo, 2001::/32, needs no such care: it is refused whole, being non-public.)
        embedded = address_refusal(address.sixtofour, allowed)
        return None if embedded is None else f"a 6to4 address embedding {embedded}"
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address.version == subnet.version and address in subnet for subnet in allowed):
        return None
    for kind, flagged in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a site-local address", isinstance(address, IPv6Address) and address.is_site_local),
        ("a multicast address", address.is_multicast),
        ("an unspecified address", address.is_unspecified),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("a non-public address", not address.is_global),
    ):
        if flagged:
            return kind
    return None


def check_url(url: str, *, require_https: bool) -> tuple[str, int]:
    """The (host, port) to resolve for `url`; raises UnsafeDestination for what is never allowed.

    The URL is read by the HTTP client's own parser: what is vetted here is what the sender sends
    to, and a URL the client would refuse to send is refused now rather than at every delivery.
    """
    try:
        parsed = httpx.URL(url)
        _ = parsed.host  # the client decodes the host name too (IDNA), which may fail
    except (httpx.InvalidURL, ValueError) as error:  # IDNA and encoding errors are ValueErrors
        raise UnsafeDestination(f"the URL is invalid: {error}") from error
    if not parsed.scheme:
        raise UnsafeDestination("the URL must be absolute, starting with https:// or http://")
    if parsed.scheme not in DEFAULT_PORTS:
        raise UnsafeDestination(f"only http and https URLs are allowed, not {parsed.scheme!r}")
    if require_https and parsed.scheme != "https":
        raise UnsafeDestination("this dispatcher sends only to https URLs")
    if parsed.userinfo:
        raise UnsafeDestination("credentials in the URL are not allowed; use custom headers")
    if not parsed.raw_host:
        raise UnsafeDestination("the URL has no host")
    # The client's parser leaves a default port out (None); anything else is what it connects to.
    port = DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 1 <= port <= MAX_PORT:
        raise UnsafeDestination(f"the URL's port is invalid: {port} is not between 1 and {MAX_PORT}")
    return parsed.raw_host.decode("ascii"), port


def vet_addresses(host: str, addresses: Sequence[str], allowed: Sequence[Subnet]) -> IPAddress:
    """The address to connect to for `host`, which resolved to `addresses`. Every one of them must be
    acceptable: a name that also points inside the network is refused as a whole."""
    if not addresses:
        raise UnsafeDestination(f"{host} does not resolve to any address")
    parsed = [ip_address(address.split("%", 1)[0]) for address in addresses]
    for address in parsed:
        kind = address_refusal(address, allowed)
        if kind is not None:
            where = f"{address} is" if host.strip("[]") == str(address) else f"{host} resolves to {address},"
            raise UnsafeDestination(f"{where} {kind}, which webhooks may not target")
    return parsed[0]


# ---- pacing: rate limit and circuit breaker ----------------------------------------------------


class TokenBucket:
    """`rate` requests per second with bursts of up to `rate`; times are monotonic seconds."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._updated = now

    def wait_for_token(self, now: float) -> float:
        """Take a token; return how long to wait before using it (0 when one was there)."""
        self._tokens = min(self.rate, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class CircuitBreaker:
    """Opens after `threshold` consecutive failures and stays open for `cooldown` seconds; then tries
    resume (half-open): a success closes it, another failure opens it again at once."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._failures = 0
        self._open_until = 0.0

    def is_open(self, now: float) -> bool:
        return now < self._open_until

    def record(self, success: bool, now: float) -> None:
        if success:
            self._failures = 0
            self._open_until = 0.0
            return
        self._failures += 1
        if self._failures >= self._threshold:
            self._open_until = now + self._cooldown
