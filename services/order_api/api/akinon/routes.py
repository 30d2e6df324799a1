"""The Akinon dialect's routes, public and rate-limited: the guest lookup `POST /users/orders/anonymous/`
and the guest cancellation requests `POST .../cancellation_requests/` and
`POST .../bulk_cancellation_requests/`.

Each counts against the same rate limits, and a miss (no guest order with that number and exactly that
email, a registered customer's order included) gets the one same answer from every route.
"""

from typing import Final

from fastapi import APIRouter, Request

from services.order_api.api.akinon.cancellations import (
    BulkCancellationIn,
    CancellationRequestIn,
    CancellationRequestOut,
    requests_created,
)
from services.order_api.api.akinon.requests import GuestLookup
from services.order_api.api.akinon.responses import AkinonOrder, akinon_order
from services.order_api.api.http import (
    Guards,
    GuestRequestsDep,
    Orders,
    OrderSettings,
    client_address,
    problem_responses,
)
from services.order_api.service.guest_requests import GuestRequest
from shared.cancellations import CancellationSubmitted
from shared.problems import Problem

router = APIRouter(prefix="/users/orders/anonymous", tags=["Akinon guest orders"])


_NOT_FOUND: Final = (
    404,
    "order_not_found",
    "No guest order has this number and email. Check both; orders of registered customers are not found here.",
)

_GUEST_LOOKUP_RESPONSES: Final = problem_responses(404, 422, 429)
_REQUEST_RESPONSES: Final = problem_responses(404, 409, 422, 429)


async def _count_attempt(lookup: GuestLookup, request: Request, guards: Guards, settings: OrderSettings) -> int:
    """Count the attempt against the client's limits (429 beyond them); the order number it names."""
    number = lookup.order_number()
    buckets = settings.rate_limit_buckets()
    per_client, per_number = buckets.of_attempt(str(number or lookup.number.strip()), client_address(request))
    await guards.limit_rate(
        [(per_client, settings.guest_lookups_per_ip), (per_number, settings.guest_lookups_per_number_and_client)],
        settings.guest_lookup_window_seconds,
    )
    return number


@router.post("/", response_model=list[AkinonOrder], responses=_GUEST_LOOKUP_RESPONSES)
async def find_guest_order(
    lookup: GuestLookup, request: Request, orders: Orders, guards: Guards, settings: OrderSettings
) -> list[AkinonOrder]:
    """A guest order by its number and email: a one-item array, or 404 whatever was wrong."""
    number = await _count_attempt(lookup, request, guards, settings)
    order = await orders.find_guest_order(number, lookup.email)
    if order is None:
        raise Problem(*_NOT_FOUND)
    return [akinon_order(order)]


async def _submit(submission: GuestRequest, requests: GuestRequestsDep) -> CancellationSubmitted:
    submitted = await requests.submit(submission)
    if submitted is None:
        raise Problem(*_NOT_FOUND)
    return submitted


@router.post(
    "/cancellation_requests/", status_code=201, response_model=CancellationRequestOut, responses=_REQUEST_RESPONSES
)
async def create_cancellation_request(
    body: CancellationRequestIn,
    request: Request,
    requests: GuestRequestsDep,
    guards: Guards,
    settings: OrderSettings,
) -> CancellationRequestOut:
    """Ask to cancel (`cancel`) or send back (`refund`, an easy return) units of an item of a guest's
    order; the cancellation worker decides. 404 as the lookup's for a miss; 409
    `cancellation_request_100_1` when the item has a request waiting; 422 with the rule's code otherwise
    (`cancellation_request_100_2` to `_100_10`)."""
    await _count_attempt(body, request, guards, settings)
    [created] = requests_created(await _submit(body.request(), requests))
    return created


@router.post(
    "/bulk_cancellation_requests/",
    status_code=201,
    response_model=list[CancellationRequestOut],
    responses=_REQUEST_RESPONSES,
)
async def create_bulk_cancellation_requests(
    body: BulkCancellationIn,
    request: Request,
    requests: GuestRequestsDep,
    guards: Guards,
    settings: OrderSettings,
) -> list[CancellationRequestOut]:
    """Requests for several items of one guest order, all accepted or none (the first refusal is the
    answer); the same rules and answers as a single request, fields named under `cancel_order_items[i]`."""
    await _count_attempt(body, request, guards, settings)
    return requests_created(await _submit(body.request(), requests))
