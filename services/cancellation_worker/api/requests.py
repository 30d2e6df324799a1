"""Guest cancellation requests: list (filters, keyset pagination), read, approve, reject, mark the
return received."""

import dataclasses
from datetime import datetime
from typing import Annotated, Final

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field

from services.cancellation_worker.api.common import Requests, operator_router, refusals
from services.cancellation_worker.domain.requests import CancellationRequest
from services.cancellation_worker.store import RequestQuery
from shared.cancellations import CancellationType, RefundMethod, RequestStatus
from shared.fields import BigintId, UtcDatetime
from shared.keyset import CURSOR_MAX_LENGTH, CURSOR_PATTERN, decode_cursor, digits_id, encode_cursor
from shared.problems import problem_responses

router = operator_router("cancellation requests")


def _text_time(value: object) -> object:
    """A time is RFC 3339 text here; pydantic would also take a number as a Unix time."""
    if not isinstance(value, str) or not value[:4].isdigit() or value.replace(".", "", 1).lstrip("-+").isdigit():
        raise ValueError("must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z")
    return value


Time = Annotated[UtcDatetime, BeforeValidator(_text_time)]

_FOUND: Final = problem_responses({404: "No such request"})
_CHANGE: Final = problem_responses(
    {404: "No such request", 409: "The request's state does not allow it (`request_not_waiting`, ...)"}
)


class RequestOut(BaseModel):
    request_id: int
    order_id: int
    line_item_id: int
    quantity: int
    reason_id: int
    cancellation_type: CancellationType
    status: RequestStatus
    description: str | None
    shipping_company_id: int | None
    pickup_date: str | None
    fully_refund_as_loyalty_money: bool
    iban_last4: str | None = Field(description="the bank account's last 4 characters; the IBAN is never shown")
    refund_method: RefundMethod | None = Field(description="how the approval pays back")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, request: CancellationRequest) -> "RequestOut":
        fields = dataclasses.asdict(request)
        fields["fully_refund_as_loyalty_money"] = fields.pop("loyalty_money")
        return cls(**fields)


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


@router.get("/cancellation-requests", response_model=RequestPage)
async def list_requests(
    service: Requests,
    *,
    status: RequestStatus | None = None,
    order_id: BigintId | None = None,
    cancellation_type: CancellationType | None = None,
    created_since: Annotated[Time | None, Query(description="created at or after")] = None,
    created_until: Annotated[Time | None, Query(description="created before")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_LENGTH, pattern=CURSOR_PATTERN)] = None,
) -> RequestPage:
    """Requests, newest first, matching every filter given; a page at a time."""
    query = RequestQuery(
        status=status,
        order_id=order_id,
        cancellation_type=cancellation_type,
        created_since=created_since,
        created_until=created_until,
        before=decode_cursor(cursor, digits_id) if cursor else None,
        limit=limit + 1,
    )
    found = await service.list(query)
    page = found[:limit]
    return RequestPage(
        items=[RequestOut.of(request) for request in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].request_id) if len(found) > limit else None,
    )


@router.get("/cancellation-requests/{request_id}", response_model=RequestOut, responses=_FOUND)
async def get_request(request_id: BigintId, service: Requests) -> RequestOut:
    with refusals():
        return RequestOut.of(await service.get(request_id))


@router.post("/cancellation-requests/{request_id}/approve", response_model=RequestOut, responses=_CHANGE)
async def approve_request(request_id: BigintId, service: Requests) -> RequestOut:
    """Approve a waiting request: order_api cancels its units and refunds them."""
    with refusals():
        return RequestOut.of(await service.approve(request_id))


@router.post("/cancellation-requests/{request_id}/reject", response_model=RequestOut, responses=_CHANGE)
async def reject_request(request_id: BigintId, service: Requests) -> RequestOut:
    """Reject a waiting request: the item may be asked about again."""
    with refusals():
        return RequestOut.of(await service.reject(request_id))


@router.post("/cancellation-requests/{request_id}/return-received", response_model=RequestOut, responses=_CHANGE)
async def return_received(request_id: BigintId, service: Requests) -> RequestOut:
    """The return a waiting `refund` request waits for arrived: approve it."""
    with refusals():
        return RequestOut.of(await service.mark_returned(request_id))
