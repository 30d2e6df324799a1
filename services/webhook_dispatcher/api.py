"""The dispatcher's HTTP routes (scope `webhooks:admin`): endpoints, their deliveries, the event type
catalogue."""

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import Depends, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.webhook_dispatcher.catalogue import catalogue, entry_named
from services.webhook_dispatcher.domain import (
    ChannelsOnOperational,
    EndpointNotFound,
    EventTypeNotFound,
    MessageNotFound,
    MessagePending,
    MessageStatus,
    PayloadExpunged,
    Signing,
    UnknownEventTypes,
    UnsafeDestination,
    signing_of,
)
from services.webhook_dispatcher.service import Row, WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.channels import MAX_CHANNEL_LENGTH
from shared.fields import BigintId, HeaderValue, StorableText, UtcDatetime
from shared.logging import CORRELATION_HEADER
from shared.problems import Problem, problem_responses
from shared.runtime import Runtime, get_runtime
from shared.scoped_router import scoped_router

SCOPE = "webhooks:admin"
router = scoped_router("webhooks", SCOPE)

_NOT_FOUND: Final = problem_responses({404: "No such endpoint"})
_REFUSED: Final = problem_responses(
    {
        422: "Invalid or missing fields, a URL the dispatcher refuses to send to (`url_not_allowed`), event "
        "types no subscriber can receive (`unknown_event_types`: see GET /event-types), or channels on an "
        "operator endpoint (`channels_not_applicable`)"
    }
)

EventTypeFilter = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$", max_length=100)]
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_RESERVED_HEADERS = ("content-type", "content-length", "host", "connection", "transfer-encoding", "webhook-")
# What every answer shows in place of a custom header's value: these are often the subscriber's
# credentials, so, like the signing secret, they are written but never read back.
MASKED_VALUE: Final = "********"


def _custom_headers(headers: dict[str, str]) -> dict[str, str]:
    for name in headers:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower().startswith(_RESERVED_HEADERS) or name.lower() == CORRELATION_HEADER:
            raise ValueError(f"{name!r} is set by the dispatcher")
    return headers


def _not_the_mask(value: str) -> str:
    if value == MASKED_VALUE:  # an answer sent back as it came would overwrite the real value
        raise ValueError("is the mask answers show in place of the value; send the real value")
    return value


Url = Annotated[StorableText, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
Description = Annotated[StorableText, StringConstraints(max_length=500)]
EventTypes = Annotated[list[EventTypeFilter], Field(max_length=100)]
Channel = Annotated[StorableText, StringConstraints(min_length=1, max_length=MAX_CHANNEL_LENGTH)]
Channels = Annotated[
    list[Channel],
    Field(
        max_length=10,
        description="receive only events carrying at least one of these channels (an order's: `source:` and its "
        "`source_name`, e.g. `source:web`); empty: every event of the endpoint's types",
    ),
]
RateLimit = Annotated[int, Field(ge=1, le=10_000, description="requests per second, per dispatcher instance")]
CustomHeaders = Annotated[
    dict[str, Annotated[HeaderValue, StringConstraints(max_length=1000), AfterValidator(_not_the_mask)]],
    Field(max_length=20, json_schema_extra={"propertyNames": {"pattern": _HEADER_NAME.pattern}}),
    AfterValidator(_custom_headers),
]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="http(s) URL the events are POSTed to")
    description: Description = ""
    event_types: EventTypes = Field(
        default_factory=list, description="types from GET /event-types, or families (order.*); empty: all"
    )
    channels: Channels = Field(default_factory=list)
    rate_limit: RateLimit | None = None
    ordered: bool = Field(default=False, description="deliver each order's events one after another, in order")
    headers: CustomHeaders = Field(
        default_factory=dict,
        description="extra headers sent with every delivery; answers show their names, never their values",
    )
    signing: Signing = Field(
        default="hmac-sha256",
        description="Standard Webhooks `v1` (hmac-sha256: a shared secret, shown once) or `v1a` (ed25519: "
        "receivers verify with the endpoint's `public_key`, and cannot sign)",
    )
    operational: bool = Field(
        default=False,
        description="an operator endpoint: receives the dispatcher's operational events (webhook.endpoint.disabled, "
        "webhook.message.exhausted, webhook.endpoint.recovered) instead of order events; fixed once created",
    )


class EndpointPatch(BaseModel):
    """Only the fields given change; `rate_limit: null` removes the limit."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    channels: Channels | None = None
    rate_limit: RateLimit | None = None
    ordered: bool | None = None
    headers: CustomHeaders | None = Field(default=None, description="replaces every custom header, values included")


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    channels: list[str]
    rate_limit: int | None
    ordered: bool
    headers: dict[str, str] = Field(description=f"the custom headers' names, each value shown as {MASKED_VALUE!r}")
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    signing: Signing
    public_key: str | None = Field(description="ed25519 endpoints: the `whpk_...` key that verifies `v1a` signatures")
    operational: bool

    @classmethod
    def from_row(cls, row: Row) -> "EndpointOut":
        fields = {name: row[name] for name in cls.model_fields if name != "signing"}
        fields["headers"] = dict.fromkeys(row["headers"], MASKED_VALUE)
        fields["signing"] = signing_of(row["public_key"])
        return cls.model_validate(fields)


class EndpointCreated(EndpointOut):
    secret: str | None = Field(
        description="The HMAC signing secret, shown only in this response: store it now (null for ed25519)."
    )


class SecretRotated(BaseModel):
    secret: str | None = Field(
        description="The new HMAC signing secret, shown only in this response (null for ed25519)."
    )
    public_key: str | None = Field(description="ed25519 endpoints: the new public key, also served with the endpoint.")
    previous_secret_expires_at: datetime = Field(description="Until then deliveries carry both signatures.")


class AttemptOut(BaseModel):
    attempted_at: datetime
    response_status: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="the first KB of the response body")


class MessageOut(BaseModel):
    id: int
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    order_id: str
    channels: list[str] = Field(description="the channels the event carried (an order's: `source:<source_name>`)")
    status: MessageStatus
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    payload_expunged_at: datetime | None = Field(description="when an operator deleted the payload; null: kept")

    @classmethod
    def from_row(cls, row: Row) -> "MessageOut":
        fields: dict[str, Any] = {name: row[name] for name in cls.model_fields if name != "attempts"}
        fields["attempts"] = row.get("attempt_log", [])
        if row["status"] != "pending":
            fields["next_attempt_at"] = None
        return cls.model_validate(fields)


class RecoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: UtcDatetime = Field(description="re-send every failed message created at or after this time")


class Recovered(BaseModel):
    requeued: int


async def get_service(runtime: Annotated[Runtime[DispatcherSettings], Depends(get_runtime)]) -> WebhookService:
    """The use cases, on the service's pool and settings (async: FastAPI runs a plain `def` dependency
    in a worker thread)."""
    return WebhookService(runtime.pool, runtime.settings)


ServiceDep = Annotated[WebhookService, Depends(get_service)]


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals, as the API answers them."""
    try:
        yield
    except UnsafeDestination as error:
        raise Problem(
            422,
            "url_not_allowed",
            f"Webhooks cannot be sent to this URL: {error}.",
            errors=[{"field": "url", "message": str(error), "type": "url_not_allowed"}],
        ) from error
    except UnknownEventTypes as error:
        raise Problem(
            422,
            "unknown_event_types",
            f"{error} Subscribe to types or families GET /event-types lists (not the operational ones).",
            errors=[
                {"field": "event_types", "message": f"{name!r} names no event type", "type": "unknown_event_types"}
                for name in error.filters
            ],
        ) from error
    except ChannelsOnOperational as error:
        raise Problem(
            422,
            "channels_not_applicable",
            f"{error} Leave `channels` empty on an operator endpoint.",
            errors=[{"field": "channels", "message": str(error), "type": "channels_not_applicable"}],
        ) from error
    except EndpointNotFound as error:
        raise Problem(404, "endpoint_not_found", str(error)) from error
    except EventTypeNotFound as error:
        raise Problem(404, "event_type_not_found", str(error)) from error
    except MessageNotFound as error:
        raise Problem(404, "message_not_found", str(error)) from error
    except MessagePending as error:
        raise Problem(409, "message_pending", str(error)) from error
    except PayloadExpunged as error:
        raise Problem(409, "payload_expunged", str(error)) from error


# ---- endpoints ---------------------------------------------------------------------------------


@router.post("/webhooks", status_code=201, response_model=EndpointCreated, responses=_REFUSED)
async def create_endpoint(body: EndpointIn, service: ServiceDep, response: Response) -> EndpointCreated:
    """Register an endpoint; the answer carries its HMAC signing secret, which is never shown again (an
    ed25519 endpoint's `public_key` instead, which always is)."""
    with refusals():
        row, secret = await service.create_endpoint(body.model_dump())
    response.headers["Location"] = f"/webhooks/{row['id']}"
    return EndpointCreated(**EndpointOut.from_row(row).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[EndpointOut])
async def list_endpoints(service: ServiceDep) -> list[EndpointOut]:
    return [EndpointOut.from_row(row) for row in await service.list_endpoints()]


@router.get("/webhooks/{endpoint_id}", response_model=EndpointOut, responses=_NOT_FOUND)
async def get_endpoint(endpoint_id: uuid.UUID, service: ServiceDep) -> EndpointOut:
    with refusals():
        return EndpointOut.from_row(await service.get_endpoint(endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response_model=EndpointOut, responses={**_NOT_FOUND, **_REFUSED})
async def update_endpoint(endpoint_id: uuid.UUID, body: EndpointPatch, service: ServiceDep) -> EndpointOut:
    """Change some of an endpoint's settings; a new URL is vetted like a new endpoint's."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "description", "event_types", "channels", "ordered", "headers"):
        if name in changes and changes[name] is None:
            raise Problem(422, "validation_error", f"{name} cannot be null.", errors=[{"field": name}])
    with refusals():
        return EndpointOut.from_row(await service.update_endpoint(endpoint_id, changes))


@router.delete("/webhooks/{endpoint_id}", status_code=204, responses=_NOT_FOUND)
async def delete_endpoint(endpoint_id: uuid.UUID, service: ServiceDep) -> Response:
    """Delete an endpoint with its messages and their attempts."""
    with refusals():
        await service.delete_endpoint(endpoint_id)
    return Response(status_code=204)


@router.post("/webhooks/{endpoint_id}/disable", response_model=EndpointOut, responses=_NOT_FOUND)
async def disable_endpoint(endpoint_id: uuid.UUID, service: ServiceDep) -> EndpointOut:
    """Stop delivering to the endpoint (its messages wait); publishes `webhook.endpoint.disabled`."""
    with refusals():
        return EndpointOut.from_row(await service.disable_endpoint(endpoint_id))


@router.post("/webhooks/{endpoint_id}/enable", response_model=EndpointOut, responses=_NOT_FOUND)
async def enable_endpoint(endpoint_id: uuid.UUID, service: ServiceDep) -> EndpointOut:
    """Deliver to the endpoint again, starting with the messages that waited."""
    with refusals():
        return EndpointOut.from_row(await service.enable_endpoint(endpoint_id))


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_model=SecretRotated, responses=_NOT_FOUND)
async def rotate_secret(endpoint_id: uuid.UUID, service: ServiceDep) -> SecretRotated:
    """A new signing key of the endpoint's kind (an HMAC secret, or an ed25519 key pair); the current one
    stays valid for the grace period, during which every delivery carries a signature by each."""
    with refusals():
        row, secret = await service.rotate_secret(endpoint_id)
    return SecretRotated(
        secret=secret, public_key=row["public_key"], previous_secret_expires_at=row["previous_secret_expires_at"]
    )


@router.post("/webhooks/{endpoint_id}/test", status_code=202, response_model=MessageOut, responses=_NOT_FOUND)
async def send_test_event(endpoint_id: uuid.UUID, service: ServiceDep) -> MessageOut:
    """Queue a `webhook.test` message for the endpoint, whatever its filter."""
    with refusals():
        return MessageOut.from_row(await service.send_test_message(endpoint_id))


# ---- deliveries --------------------------------------------------------------------------------


@router.get("/webhooks/{endpoint_id}/messages", response_model=list[MessageOut], responses=_NOT_FOUND)
async def list_endpoint_messages(
    endpoint_id: uuid.UUID,
    service: ServiceDep,
    *,
    status: MessageStatus | None = None,
    channel: Annotated[
        str | None, Query(max_length=MAX_CHANNEL_LENGTH, description="only those whose event carried this channel")
    ] = None,
    since: Annotated[UtcDatetime | None, Query(description="created at or after")] = None,
    until: Annotated[UtcDatetime | None, Query(description="created before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MessageOut]:
    """The endpoint's messages, newest first, each with its attempts."""
    with refusals():
        rows = await service.list_endpoint_messages(
            endpoint_id, status=status, channel=channel, since=since, until=until, limit=limit
        )
    return [MessageOut.from_row(row) for row in rows]


@router.get("/events/{event_id}/messages", response_model=list[MessageOut])
async def list_event_messages(
    event_id: uuid.UUID, service: ServiceDep, status: MessageStatus | None = None
) -> list[MessageOut]:
    """Every endpoint's message for one event (the `webhook-id` subscribers see), with attempts."""
    return [MessageOut.from_row(row) for row in await service.list_event_messages(event_id, status=status)]


@router.post(
    "/webhooks/{endpoint_id}/messages/{message_id}/retry",
    status_code=202,
    response_model=MessageOut,
    responses=problem_responses(
        {404: "No such message for this endpoint", 409: "Its payload was expunged (`payload_expunged`)"}
    ),
)
async def retry_message(endpoint_id: uuid.UUID, message_id: BigintId, service: ServiceDep) -> MessageOut:
    """Send the message again now (one attempt), whatever its status, unless its payload was expunged."""
    with refusals():
        return MessageOut.from_row(await service.retry_message(endpoint_id, message_id))


@router.post("/webhooks/{endpoint_id}/recover", status_code=202, response_model=Recovered, responses=_NOT_FOUND)
async def recover(endpoint_id: uuid.UUID, body: RecoverIn, service: ServiceDep) -> Recovered:
    """Re-send every failed message of the endpoint created since the given time (not those whose payload
    was expunged)."""
    with refusals():
        return Recovered(requeued=await service.recover(endpoint_id, body.since))


# ---- event types -------------------------------------------------------------------------------


class EventTypeSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    family: str = Field(description="what the type's name starts with; `family.*` subscribes to all of them")
    description: str
    operational: bool = Field(
        description="the dispatcher's own event, for operators; not a filter of subscribers' endpoints"
    )


class EventTypeOut(EventTypeSummary):
    json_schema: dict[str, Any] = Field(
        alias="schema", description="JSON Schema (2020-12) of the webhook body a subscriber receives"
    )
    example: dict[str, Any] | None = Field(description="a body of this type, valid by the schema")


@router.get("/event-types", response_model=list[EventTypeOut] | list[EventTypeSummary])
async def list_event_types(
    with_content: Annotated[
        bool, Query(description="false: names, families and descriptions only, without schemas and examples")
    ] = True,
) -> list[EventTypeOut] | list[EventTypeSummary]:
    """The catalogue of the event types endpoints can subscribe to (filters also take `family.*` and
    `*`): the contract's types, less the facts other services send order_api; then the dispatcher's
    own operational types (`operational: true`). Each with the JSON Schema of its body and an example,
    unless `with_content=false` (the schemas are most of the list's size)."""
    if not with_content:
        return [EventTypeSummary.model_validate(entry) for entry in catalogue()]
    return [EventTypeOut.model_validate(entry) for entry in catalogue()]


@router.get(
    "/event-types/{name}", response_model=EventTypeOut, responses=problem_responses({404: "No such event type"})
)
async def get_event_type(name: str) -> EventTypeOut:
    with refusals():
        return EventTypeOut.model_validate(entry_named(name))
