"""The anonymizer's API (port 8001, scope `orders:anonymize`): a customer's erasure (POST /erasures),
each request's progress order by order with every service's receipt and customer record by customer
record with order_api's answer, and the requests newest first, a page at a time. It never shows an
email: a request names the customer id, or says it matched by email."""

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Final, Self

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.anonymizer.domain import (
    CustomerErasure,
    CustomerState,
    ErasureRequest,
    ErasureState,
    RequestKind,
    RequestQuery,
)
from services.anonymizer.service import postgres_ports
from services.anonymizer.service.requests import (
    ErasureRequestService,
    NoSubject,
    OrderProgress,
    RequestNotFound,
    RequestView,
)
from services.anonymizer.settings import AnonymizerSettings
from shared.fields import BigintId, StorableText
from shared.keyset import CURSOR_MAX_LENGTH, CURSOR_PATTERN, decode_cursor, encode_cursor
from shared.problems import Problem, invalid_field, problem_responses
from shared.runtime import Runtime, get_runtime
from shared.scoped_router import scoped_router

SCOPE: Final = "orders:anonymize"
_FOUND: Final = problem_responses({404: "No such erasure request (`erasure_not_found`)"})

router = scoped_router("erasures", SCOPE)

RuntimeDep = Annotated[Runtime[AnonymizerSettings], Depends(get_runtime)]


async def get_service(runtime: RuntimeDep) -> ErasureRequestService:
    return ErasureRequestService(postgres_ports(runtime.pool, runtime.settings))


Service = Annotated[ErasureRequestService, Depends(get_service)]

Email = Annotated[StorableText, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]


class ErasureIn(BaseModel):
    """Whose orders to erase: exactly one of `email` and `customer_id`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    email: Email | None = None
    customer_id: BigintId | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.email is None) == (self.customer_id is None):
            raise ValueError("give exactly one of email and customer_id")
        return self


class ReceiptOut(BaseModel):
    service: str
    rows: dict[str, int] = Field(description="what the service erased of the order, by table")
    attempt: int
    received_at: datetime


class OrderOut(BaseModel):
    order_id: int
    erasure_id: uuid.UUID
    state: ErasureState = Field(description="waiting (not anonymized yet), erasing, overdue or complete")
    attempt: int
    requested_at: datetime | None
    deadline_at: datetime | None
    completed_at: datetime | None
    missing: list[str] = Field(description="the services whose receipt is not in yet")
    receipts: list[ReceiptOut]

    @classmethod
    def of(cls, progress: OrderProgress) -> "OrderOut":
        erasure = progress.erasure
        return cls(
            order_id=erasure.order_id,
            erasure_id=erasure.erasure_id,
            state=erasure.state,
            attempt=erasure.attempt,
            requested_at=erasure.requested_at,
            deadline_at=erasure.deadline_at,
            completed_at=erasure.completed_at,
            missing=progress.missing,
            receipts=[
                ReceiptOut(service=r.service, rows=r.rows, attempt=r.attempt, received_at=r.received_at)
                for r in progress.receipts
            ],
        )


class CustomerOut(BaseModel):
    customer_id: int
    state: CustomerState = Field(
        description="waiting (order_api masks the record once none of its orders is left to anonymize) or erased"
    )
    rows: dict[str, int] | None = Field(
        description='what order_api masked, by table (e.g. {"customers": 2}: the account and a checkout record '
        'with its email; {"customers": 0}: nothing of it was left, an unknown customer or one erased before); '
        "null while waiting"
    )
    erased_at: datetime | None

    @classmethod
    def of(cls, customer: CustomerErasure) -> "CustomerOut":
        return cls(
            customer_id=customer.customer_id, state=customer.state, rows=customer.rows, erased_at=customer.erased_at
        )


class RequestOut(BaseModel):
    id: uuid.UUID
    kind: RequestKind = Field(
        description="customer (POST /erasures), forget (requestToBeForgotten), order, or retention (the sweep)"
    )
    status: ErasureState
    customer_id: int | None
    matched_by_email: bool
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, request: ErasureRequest) -> "RequestOut":
        return cls(
            id=request.id,
            kind=request.kind,
            status=request.status,
            customer_id=request.customer_id,
            matched_by_email=request.email_hash is not None,
            created_at=request.created_at,
            completed_at=request.completed_at,
        )


class RequestDetail(RequestOut):
    orders: list[OrderOut]
    customers: list[CustomerOut] = Field(
        description="the customer records a customer erasure asked order_api to erase; the request is complete "
        "only when every order is complete and every customer record erased"
    )

    @classmethod
    def of_view(cls, view: RequestView) -> "RequestDetail":
        summary = RequestOut.of(view.request).model_dump()
        return cls(
            **summary,
            orders=[OrderOut.of(progress) for progress in view.orders],
            customers=[CustomerOut.of(customer) for customer in view.customers],
        )


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except RequestNotFound as error:
        raise Problem(404, "erasure_not_found", str(error)) from error
    except NoSubject as error:
        raise invalid_field("email", str(error)) from error


@router.post("/erasures", status_code=202, response_model=RequestDetail)
async def erase_customer(body: ErasureIn, service: Service, response: Response) -> RequestDetail:
    """Erase every order of a person (by email or customer id): order_api is asked to anonymize each,
    eligible ones now, the others as soon as they become eligible (`waiting` until then); each order's
    erasure then collects a receipt from every service. Each customer record of the person is erased
    by order_api once none of its orders is left to anonymize (`customers`); the request completes
    then."""
    with refusals():
        view = await service.erase_customer(email=body.email, customer_id=body.customer_id)
    response.headers["Location"] = f"/erasures/{view.request.id}"
    return RequestDetail.of_view(view)


@router.get("/erasures", response_model=RequestPage)
async def list_erasures(
    service: Service,
    *,
    status: ErasureState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_LENGTH, pattern=CURSOR_PATTERN)] = None,
) -> RequestPage:
    """Erasure requests, newest first, of `status` if given; a page at a time."""
    before = decode_cursor(cursor, uuid.UUID) if cursor else None
    found = await service.list(RequestQuery(status=status, before=before, limit=limit + 1))
    page = found[:limit]
    return RequestPage(
        items=[RequestOut.of(request) for request in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(found) > limit else None,
    )


@router.get("/erasures/{request_id}", response_model=RequestDetail, responses=_FOUND)
async def get_erasure(request_id: uuid.UUID, service: Service) -> RequestDetail:
    """The request, each of its orders' progress and every service's receipt, and each customer
    record's state."""
    with refusals():
        return RequestDetail.of_view(await service.get(request_id))
