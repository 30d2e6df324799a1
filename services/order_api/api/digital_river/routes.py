"""The Digital River dialect's routes: `/orders...`, each a thin translation over the use cases."""

from typing import Annotated, Final

from fastapi import APIRouter, Query, Response

from services.order_api.api.digital_river.fields import OrderId, request_fields
from services.order_api.api.digital_river.queries import ListParams
from services.order_api.api.digital_river.requests import DigitalRiverOrderCreate, DigitalRiverOrderUpdate
from services.order_api.api.digital_river.responses import (
    DigitalRiverOrder,
    DigitalRiverOrderList,
    DigitalRiverTaxDetails,
    digital_river_order,
    digital_river_tax_details,
)
from services.order_api.api.direct import DirectRoute
from services.order_api.api.http import IfMatch, Orders, json_response, problem_responses
from services.order_api.api.security import READS, MayRead
from services.order_api.domain.queries import Page
from shared.problems import Problem

# DirectRoute: the create (a body and plain dependencies) skips FastAPI's general dependency solver.
router = APIRouter(prefix="/orders", tags=["Digital River orders"], route_class=DirectRoute)


@router.get(
    "",
    operation_id="listOrders",
    response_model=DigitalRiverOrderList,
    responses=problem_responses(400, 422),
    dependencies=READS,
)
async def list_orders(orders: Orders, params: Annotated[ListParams, Query()]) -> Response:
    """Get all orders, newest first, that match every filter given. Page forward with
    `startingAfter=<last id of this page>` and back with `endingBefore=<first id of this page>`;
    both at once is a 400."""
    if params.starting_after is not None and params.ending_before is not None:
        raise Problem(
            400,
            "conflicting_cursors",
            "Give startingAfter or endingBefore, not both.",
            errors=[
                {"field": name, "message": "only one cursor at a time"} for name in ("startingAfter", "endingBefore")
            ],
        )
    query, limit = params.query(), params.limit
    if params.ending_before is None:
        found = await orders.list_orders(query, Page(limit + 1, before_id=params.starting_after))
    else:  # walk towards newer orders from the cursor, then show that page newest first
        found = await orders.list_orders(query, Page(limit + 1, direction="asc", after_id=params.ending_before))
    page = found[:limit] if params.ending_before is None else found[:limit][::-1]
    return json_response(
        DigitalRiverOrderList(data=[digital_river_order(order) for order in page], has_more=len(found) > limit)
    )


_VERSIONED: Final = {
    "headers": {"ETag": {"description": "The order's version, to send in If-Match", "schema": {"type": "string"}}}
}
_LOCATED: Final = {"Location": {"description": "The order's URL", "schema": {"type": "string"}}}

# The created order's id leads to the operations on it (OpenAPI links, which API fuzzers follow too).
_ORDER_LINKS: Final = {
    operation: {"operationId": operation, "parameters": {"id": "$response.body#/id"}}
    for operation in ("retrieveOrder", "updateOrder", "refreshOrder", "retrieveOrderTaxDetails")
}


@router.post(
    "",
    operation_id="createOrder",
    status_code=201,
    response_model=DigitalRiverOrder,
    responses={
        201: {
            "description": "The order, created",
            "links": _ORDER_LINKS,
            "headers": {**_VERSIONED["headers"], **_LOCATED},
        },
        200: {
            "model": DigitalRiverOrder,
            "description": "The same create again (same upstreamId and content): the first order",
            "links": _ORDER_LINKS,
            "headers": {**_VERSIONED["headers"], **_LOCATED},
        },
        **problem_responses(400, 409, 413, 422),
    },
)
async def create_order(body: DigitalRiverOrderCreate, orders: Orders, may_read: MayRead) -> Response:
    """Creates a new order from `items` (this platform has no checkouts to convert; see the
    description of each field). 409 when `upstreamId` already names an order made from other content.
    `customerId` needs orders:read too; `email` never attaches the order to an account. A key without
    orders:read is answered with `customerId` null."""
    with request_fields():
        placed = await orders.create_order(body.draft(), may_read=may_read)
    order = placed.stored.order
    response = json_response(
        digital_river_order(order), 201 if placed.created else 200, sequence=placed.stored.sequence
    )
    response.headers["Location"] = f"/orders/{order.id}"
    return response


@router.get(
    "/{id}",
    operation_id="retrieveOrder",
    response_model=DigitalRiverOrder,
    responses={**problem_responses(404, 422), 200: _VERSIONED},
    dependencies=READS,
)
async def get_order(order_id: OrderId, orders: Orders) -> Response:
    """Retrieves the details of an order; its ETag is the version to send in `If-Match`."""
    stored = await orders.get_order(order_id)
    return json_response(digital_river_order(stored.order), sequence=stored.sequence)


# Refreshing re-reads the order: its state is always current here, so it answers as retrieve does,
# and needs what retrieving needs (orders:read), though it is a POST.
router.add_api_route(
    "/{id}/refresh",
    get_order,
    methods=["POST"],
    operation_id="refreshOrder",
    response_model=DigitalRiverOrder,
    responses={**problem_responses(404, 422), 200: _VERSIONED},
    dependencies=READS,
    summary="Refresh Order",
    description="Refreshes an order so its `state` can be checked: answers the order as it is now (payments "
    "and fulfilments reported since are in it); changes nothing and publishes nothing.",
)


@router.post(
    "/{id}",
    operation_id="updateOrder",
    response_model=DigitalRiverOrder,
    responses={**problem_responses(400, 404, 409, 412, 413, 422), 200: _VERSIONED},
)
async def update_order(
    *,
    order_id: OrderId,
    body: DigitalRiverOrderUpdate,
    orders: Orders,
    may_read: MayRead,
    if_match: IfMatch,
) -> Response:
    """Updates an existing order: `requestToBeForgotten`, `upstreamId` and `metadata` only (other
    fields: 422 `immutable_field`); metadata is merged key by key, and an order holds at most 50 keys
    (422 `too_many_entries`). 409 when the new `upstreamId` names another order, or when
    `requestToBeForgotten: false` would withdraw the customer's request (`forget_request_final`), or
    when metadata would put personal data back into an anonymized order (`order_anonymized`);
    412 when `If-Match` names an older version."""
    changes = body.changes()
    with request_fields():
        stored = await orders.update_order(order_id, changes, may_read=may_read, if_match=if_match)
    return json_response(digital_river_order(stored.order), sequence=stored.sequence)


@router.get(
    "/{id}/tax-details",
    operation_id="retrieveOrderTaxDetails",
    response_model=DigitalRiverTaxDetails,
    responses=problem_responses(404, 422),
    dependencies=READS,
)
async def tax_details(order_id: OrderId, orders: Orders) -> Response:
    """Retrieves the tax details of each line item in an order."""
    return json_response(digital_river_tax_details((await orders.get_order(order_id)).order))
