"""The dispatcher's operator routes beside the endpoints' (scope `webhooks:admin`): an endpoint's
statistics, one message with its payload, and the payload expunge."""

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field

from services.webhook_dispatcher.api import SCOPE, MessageOut, refusals
from services.webhook_dispatcher.expunge import MessageContents
from services.webhook_dispatcher.service import Row
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.stats import EndpointStats
from shared.auth import caller_of
from shared.fields import BigintId, UtcDatetime
from shared.problems import Problem, problem_responses
from shared.runtime import Runtime, get_runtime
from shared.scoped_router import scoped_router

router = scoped_router("webhooks", SCOPE)

_NO_MESSAGE = problem_responses({404: "No such message for this endpoint"})


class LastSuccess(BaseModel):
    at: datetime
    response_status: int | None


class LastFailure(BaseModel):
    at: datetime
    response_status: int | None = Field(description="null when no answer came (`error` says why)")
    error: str | None


class EndpointStatsOut(BaseModel):
    since: datetime
    until: datetime
    delivered: int = Field(description="messages created in the window and delivered")
    failed: int = Field(description="messages created in the window whose retries are spent (or answered 410)")
    pending: int = Field(description="messages created in the window still to be delivered (due or retrying)")
    last_success: LastSuccess | None = Field(description="the last delivery among those messages")
    last_failure: LastFailure | None = Field(description="the last failed attempt among those messages")

    @classmethod
    def from_row(cls, row: Row) -> "EndpointStatsOut":
        success = failure = None
        if row["last_success_at"] is not None:
            success = LastSuccess(at=row["last_success_at"], response_status=row["last_success_status"])
        if row["last_failure_at"] is not None:
            failure = LastFailure(
                at=row["last_failure_at"], response_status=row["last_failure_status"], error=row["last_failure_error"]
            )
        counts = {name: row[name] for name in ("since", "until", "delivered", "failed", "pending")}
        return cls(**counts, last_success=success, last_failure=failure)


class MessageWithPayload(MessageOut):
    payload: Any = Field(description="the body sent to the endpoint (JSON); null once expunged")
    payload_expunged_by: str | None = Field(description="the id of the API key that expunged the payload")

    @classmethod
    def from_row(cls, row: Row) -> "MessageWithPayload":
        payload = bytes(row["payload"])
        return cls(
            **MessageOut.from_row(row).model_dump(),
            payload=json.loads(payload) if payload else None,
            payload_expunged_by=row["payload_expunged_by"],
        )


async def get_stats(runtime: Annotated[Runtime[DispatcherSettings], Depends(get_runtime)]) -> EndpointStats:
    return EndpointStats(runtime.pool)


async def get_contents(runtime: Annotated[Runtime[DispatcherSettings], Depends(get_runtime)]) -> MessageContents:
    return MessageContents(runtime.pool)


@router.get(
    "/webhooks/{endpoint_id}/stats",
    response_model=EndpointStatsOut,
    responses=problem_responses({404: "No such endpoint", 422: "`since` is not before `until` (`invalid_window`)"}),
)
async def endpoint_stats(
    endpoint_id: uuid.UUID,
    stats: Annotated[EndpointStats, Depends(get_stats)],
    since: Annotated[
        UtcDatetime | None, Query(description="messages created at or after; default: a day before until")
    ] = None,
    until: Annotated[UtcDatetime | None, Query(description="messages created before; default: now")] = None,
) -> EndpointStatsOut:
    """The endpoint's messages created in the window, by status, with the last success and the last
    failure among them (Svix's endpoint stats)."""
    if since is not None and until is not None and since >= until:
        raise Problem(
            422,
            "invalid_window",
            "since must be before until.",
            errors=[{"field": "since", "message": "must be before until"}],
        )
    with refusals():
        return EndpointStatsOut.from_row(await stats.of(endpoint_id, since, until))


@router.get("/webhooks/{endpoint_id}/messages/{message_id}", response_model=MessageWithPayload, responses=_NO_MESSAGE)
async def get_message(
    endpoint_id: uuid.UUID, message_id: BigintId, contents: Annotated[MessageContents, Depends(get_contents)]
) -> MessageWithPayload:
    """One message with its payload (null once expunged, with when and by which API key) and attempts."""
    with refusals():
        return MessageWithPayload.from_row(await contents.message(endpoint_id, message_id))


@router.delete(
    "/webhooks/{endpoint_id}/messages/{message_id}/content",
    status_code=204,
    responses=problem_responses(
        {404: "No such message for this endpoint", 409: "The message is still pending delivery (`message_pending`)"}
    ),
)
async def expunge_payload(
    endpoint_id: uuid.UUID,
    message_id: BigintId,
    request: Request,
    contents: Annotated[MessageContents, Depends(get_contents)],
) -> Response:
    """Delete a delivered or failed message's payload for good (and what the endpoint answered, which
    may echo it), for a support or privacy request; its ids, times, status and attempts stay, with when
    and by which API key it was expunged. Refused while the message is still pending delivery."""
    caller = caller_of(request.scope)
    assert caller is not None, "the route is keyed"
    with refusals():
        await contents.expunge(endpoint_id, message_id, by=caller.key_id)
    return Response(status_code=204)
