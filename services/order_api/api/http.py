"""HTTP conventions every order dialect shares: versions as ETags, If-Match preconditions, JSON answers,
the problems a route documents, and the use cases and settings routes receive."""

from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic_core import to_json

from services.order_api.service.anonymization import AnonymizationService
from services.order_api.service.guards import HttpGuards
from services.order_api.service.guest_requests import GuestRequests
from services.order_api.service.orders import OrderService
from services.order_api.service.refunds import RefundService
from services.order_api.settings import OrderApiSettings
from services.order_api.store import PostgresDatabase
from shared.problems import Problem
from shared.problems import problem_responses as documented_problems
from shared.runtime import Runtime, get_runtime


def client_address(request: Request) -> str:
    """Whom a rate limit counts a request against: the client's address (X-Forwarded-For's from the
    proxies in FORWARDED_ALLOW_IPS, uvicorn's doing)."""
    return request.client.host if request.client else "unknown"


def etag(sequence: int) -> str:
    """An order's version as a strong ETag: its event sequence, which every change increments."""
    return f'"{sequence}"'


async def if_match_version(
    if_match: Annotated[
        str | None,
        Header(
            description="Only apply the change if the order is still at this ETag (else 412); send it as it "
            'was returned (`"3"`): If-Match compares strongly, so a weak `W/"3"` never matches.',
            # Documented, not enforced here, so a malformed value gets the clearer 400 below.
            json_schema_extra={"pattern": r'^\s*(\*|"?[0-9]{1,18}"?)\s*$'},
        ),
    ] = None,
) -> int | None:
    """The version an `If-Match` header names; None when absent or `*` (any version)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip()
    if value.startswith("W/"):
        # RFC 9110 13.1.1: If-Match uses the strong comparison, under which a weak tag matches nothing.
        raise Problem(
            412,
            "weak_etag",
            f"If-Match compares ETags strongly, so the weak {value[:40]!r} never matches; "
            'send the ETag as this API returned it, such as "3".',
            errors=[{"field": "If-Match", "message": "a weak ETag never matches"}],
        )
    value = value.strip('"')
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise Problem(
            400,
            "invalid_if_match",
            'If-Match must be an ETag this API returned, such as "3".',
            errors=[{"field": "If-Match", "message": "not an ETag of this API"}],
        )
    return int(value)


IfMatch = Annotated[int | None, Depends(if_match_version)]


# The service's runtime, typed by its settings, as routes receive it.
RuntimeDep = Annotated[Runtime[OrderApiSettings], Depends(get_runtime)]


async def order_settings(runtime: RuntimeDep) -> OrderApiSettings:
    return runtime.settings


OrderSettings = Annotated[OrderApiSettings, Depends(order_settings)]


# The use cases read the runtime themselves, not through a `RuntimeDep`: each dependency costs FastAPI
# ~10 us of CPU per request to solve, on every order route.
UseCaseT = TypeVar("UseCaseT", OrderService, RefundService, GuestRequests, AnonymizationService)


async def _use_case(request: Request, kind: type[UseCaseT]) -> UseCaseT:
    runtime: Runtime[OrderApiSettings] = await get_runtime(request)
    database = PostgresDatabase(runtime.pool, request.app.state.gatherings)
    return kind(database, max_event_bytes=runtime.settings.max_event_bytes)


async def order_service(request: Request) -> OrderService:
    return await _use_case(request, OrderService)


async def refund_service(request: Request) -> RefundService:
    return await _use_case(request, RefundService)


async def guest_requests(request: Request) -> GuestRequests:
    return await _use_case(request, GuestRequests)


async def anonymization_service(request: Request) -> AnonymizationService:
    return await _use_case(request, AnonymizationService)


async def http_guards(request: Request) -> HttpGuards:
    runtime: Runtime[OrderApiSettings] = await get_runtime(request)
    return HttpGuards(PostgresDatabase(runtime.pool))


# A route's way in: the use cases on orders, their refunds, guests' requests and anonymization, and the
# HTTP guards' records.
Orders = Annotated[OrderService, Depends(order_service)]
Refunds = Annotated[RefundService, Depends(refund_service)]
GuestRequestsDep = Annotated[GuestRequests, Depends(guest_requests)]
Anonymizations = Annotated[AnonymizationService, Depends(anonymization_service)]
Guards = Annotated[HttpGuards, Depends(http_guards)]


# What the platform's edge may answer on any keyed route, before the route's own refusals.
EDGE_STATUSES: Final = (400, 401, 403, 406, 408, 413, 415, 503)

_STATUS_MEANINGS: Final[dict[int, str]] = {
    400: "Malformed request (bad JSON, a bad header)",
    401: "No API key, or an unknown one (`Authorization: Bearer <key>`)",
    403: "The API key lacks the scope (orders:read to read, orders:write to change; naming a customer by id "
    "needs both)",
    404: "No such order",
    406: "Accept excludes JSON",
    408: "The request body did not arrive in time",
    409: "The order's state does not allow this",
    412: "If-Match names a version the order has moved past, or is a weak ETag (which never matches)",
    413: "The body is too large",
    415: "The body is not JSON (Content-Type)",
    422: "Invalid or missing fields; `errors` names them",
    429: "Too many requests; wait as Retry-After says",
    503: "The database cannot be reached right now; retry after `Retry-After` seconds",
}


def problem_responses(*statuses: int, schema: Mapping[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting a route's problem answers, with what each status means here (in
    the dialect's own problem `schema` when it has one)."""
    meanings = {status: _STATUS_MEANINGS[status] for status in statuses}
    return documented_problems(meanings) if schema is None else documented_problems(meanings, schema)


def json_response(body: Any, status_code: int = 200, *, sequence: int | None = None) -> Response:
    """`body` (a response model, or JSON data already in the dialect's shape) as a JSON answer, with the
    order's version as its ETag when `sequence` is given. Serialised once: FastAPI would validate the
    answer against the route's model a second time."""
    headers = {"ETag": etag(sequence)} if sequence is not None else None
    return Response(to_json(body, by_alias=True), status_code, headers, media_type="application/json")
