"""The Haravan dialect's routes: `/com/orders...json`, each a thin translation over the use cases."""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Path, Query, Response
from starlette.convertors import StringConvertor, register_url_convertor

from services.order_api.api.direct import DirectRoute
from services.order_api.api.haravan.errors import fields_under
from services.order_api.api.haravan.errors import haravan_problem_responses as problem_responses
from services.order_api.api.haravan.examples import CREATE_EXAMPLES, UPDATE_EXAMPLES
from services.order_api.api.haravan.queries import FieldsParam, Filters, fields_named
from services.order_api.api.haravan.requests import OrderCreateBody
from services.order_api.api.haravan.responses import (
    Deleted,
    OrderCount,
    OrderEnvelope,
    OrderFieldsEnvelope,
    OrderListEnvelope,
)
from services.order_api.api.haravan.translation import haravan_order
from services.order_api.api.haravan.updates import OrderUpdateBody
from services.order_api.api.http import EDGE_STATUSES, IfMatch, Orders, json_response
from services.order_api.api.security import READS, WRITES, MayRead
from services.order_api.domain.queries import Page
from services.order_api.domain.stored import StoredOrder
from shared.fields import MAX_BIGINT

# Every route may also answer these, in the dialect's problem shape (errors.py).
EDGE_PROBLEMS: Final = problem_responses(*EDGE_STATUSES)
# DirectRoute: the create (a body and plain dependencies) skips FastAPI's general dependency solver.
router = APIRouter(prefix="/com", tags=["Haravan orders"], responses=EDGE_PROBLEMS, route_class=DirectRoute)

OrderId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The order id")]


class _IdSegment(StringConvertor):
    """The `{...:id}` of a path: an order's or a refund's id, as given (OrderId judges it: 422 naming the
    field), but never a fixed name beside it (`count.json`, `calculate.json`), so that `PUT
    /com/orders/count.json` is a 405 of the count route, not a 422 about an order "count"."""

    regex = r"(?!(?:count|calculate)\.json$)[^/]+"


register_url_convertor("id", _IdSegment())


def _only(order: dict[str, Any], names: set[str] | None) -> dict[str, Any]:
    return order if names is None else {name: order[name] for name in names}


ETAG: Final = {"ETag": {"description": "The order's version, to send back in If-Match", "schema": {"type": "string"}}}
_LOCATION: Final = {"Location": {"description": "The new order's URL", "schema": {"type": "string"}}}


@router.get("/orders.json", response_model=OrderListEnvelope, responses=problem_responses(422), dependencies=READS)
async def list_orders(
    *,
    orders: Orders,
    query: Filters,
    limit: Annotated[int, Query(ge=1, le=250, description="Orders per page, 1 to 250")] = 50,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page to show, from 1")] = 1,
    since_id: Annotated[
        int | None, Query(ge=0, le=MAX_BIGINT, description="Only orders with a greater id, oldest first")
    ] = None,
    fields: FieldsParam = None,
) -> Response:
    """Orders matching every filter given: open ones unless `status` says otherwise. Newest first,
    `limit` a page; with `since_id`, oldest first from that id."""
    names = fields_named(fields)
    found = await orders.list_orders(
        query,
        Page(limit, direction="desc" if since_id is None else "asc", after_id=since_id, offset=(page - 1) * limit),
    )
    return json_response({"orders": [_only(haravan_order(order), names) for order in found]})


@router.get("/orders/count.json", response_model=OrderCount, responses=problem_responses(422), dependencies=READS)
async def count_orders(orders: Orders, query: Filters) -> OrderCount:
    """How many orders match the same filters as the list."""
    return OrderCount(count=await orders.count_orders(query))


@router.post(
    "/orders.json",
    status_code=201,
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 413, 422), 201: {"headers": {**ETAG, **_LOCATION}}},
)
async def create_order(
    body: Annotated[OrderCreateBody, Body(openapi_examples=CREATE_EXAMPLES)],
    orders: Orders,
    may_read: MayRead,
) -> Response:
    """Create an order; `order.created` is published once it is stored. Without transactions or a
    `financial_status` the order is taken as paid, as Haravan does. An existing customer is named by
    `customer.id` (this needs orders:read too); an email finds or records a checkout record, never an
    account. A key without orders:read is answered without the order's `customer`."""
    with fields_under("order"):
        placed = await orders.create_order(body.order.draft(), may_read=may_read)
    response = order_response(placed.stored, status_code=201)
    response.headers["Location"] = f"/com/orders/{placed.stored.order.id}.json"
    return response


@router.get(
    "/orders/{order_id:id}.json",
    response_model=OrderFieldsEnvelope,
    responses={**problem_responses(404, 422), 200: {"headers": ETAG}},
    dependencies=READS,
)
async def get_order(order_id: OrderId, orders: Orders, fields: FieldsParam = None) -> Response:
    """One order; its ETag is the version to send back in `If-Match`."""
    names = fields_named(fields)
    return order_response(await orders.get_order(order_id), names=names)


def order_response(stored: StoredOrder, *, names: set[str] | None = None, status_code: int = 200) -> Response:
    """`{"order": ...}` (only the keys in `names`, when given), with the order's version as its ETag."""
    shown = haravan_order(stored.order, stored.document)
    return json_response({"order": _only(shown, names)}, status_code, sequence=stored.sequence)


@router.put(
    "/orders/{order_id:id}.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 404, 409, 412, 413, 422), 200: {"headers": ETAG}},
)
async def update_order(
    *,
    order_id: OrderId,
    body: Annotated[OrderUpdateBody, Body(openapi_examples=UPDATE_EXAMPLES)],
    orders: Orders,
    may_read: MayRead,
    if_match: IfMatch,
) -> Response:
    """Change note, note_attributes, email, buyer_accepts_marketing, metafields or tags, or detach the
    customer (`"customer": null`). Items and quantities cannot change. The whole order as read may be
    sent back with the changes (as Shopify clients do): the keys the platform keeps are ignored, the
    others must be as the order has them (422 `immutable_field` otherwise), and an update that changes
    nothing stores and publishes nothing. An anonymized order takes no personal data again (email,
    note, note_attributes, metafields: 409 `order_anonymized`)."""
    body.order.check(order_id)
    with fields_under("order"):
        stored = await orders.update_order(order_id, body.order.changes, may_read=may_read, if_match=if_match)
    return order_response(stored)


@router.post(
    "/orders/{order_id:id}/close.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 404, 409, 412, 422), 200: {"headers": ETAG}},
)
async def close_order(order_id: OrderId, orders: Orders, may_read: MayRead, if_match: IfMatch) -> Response:
    """Close an open order (409 `order_not_open` otherwise)."""
    return order_response(await orders.close_order(order_id, may_read=may_read, if_match=if_match))


@router.post(
    "/orders/{order_id:id}/open.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(400, 404, 409, 412, 422), 200: {"headers": ETAG}},
)
async def open_order(order_id: OrderId, orders: Orders, may_read: MayRead, if_match: IfMatch) -> Response:
    """Re-open a closed order (409 `order_not_closed` when it is open or cancelled)."""
    return order_response(await orders.reopen_order(order_id, may_read=may_read, if_match=if_match))


@router.delete(
    "/orders/{order_id:id}.json",
    response_model=Deleted,
    responses=problem_responses(400, 404, 409, 412, 422),
    dependencies=WRITES,
)
async def delete_order(order_id: OrderId, orders: Orders, if_match: IfMatch) -> Deleted:
    """Delete an order that is closed, cancelled or unpaid, and anonymized if its customer asked to be
    forgotten (409 `order_not_deletable` otherwise); `order.deleted` carries its last state."""
    await orders.delete_order(order_id, if_match=if_match)
    return Deleted()
