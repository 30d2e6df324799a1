"""Which API-key scope each order route needs (services/order_api/api/security.py): what the route
does, not its HTTP method. Read from the app's routes, no I/O."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.order_api.api.akinon import routes as akinon
from services.order_api.api.digital_river import routes as digital_river
from services.order_api.api.elastic_path import routes as elastic_path
from services.order_api.api.haravan import refund_routes as haravan_refunds
from services.order_api.api.haravan import routes as haravan
from services.order_api.api.security import require_anonymize, require_read, require_write

SCOPE_OF: dict[Callable[..., Any], str] = {
    require_read: "orders:read",
    require_write: "orders:write",
    require_anonymize: "orders:anonymize",
}

EXPECTED = {
    ("GET", "/com/orders.json"): "orders:read",
    ("GET", "/com/orders/count.json"): "orders:read",
    ("GET", "/com/orders/{order_id}.json"): "orders:read",
    ("POST", "/com/orders.json"): "orders:write",
    ("PUT", "/com/orders/{order_id}.json"): "orders:write",
    ("DELETE", "/com/orders/{order_id}.json"): "orders:write",
    ("POST", "/com/orders/{order_id}/close.json"): "orders:write",
    ("POST", "/com/orders/{order_id}/open.json"): "orders:write",
    ("POST", "/com/orders/{order_id}/cancel.json"): "orders:write",
    ("POST", "/com/orders/{order_id}/refunds/calculate.json"): "orders:read",  # a POST that only reads
    ("POST", "/com/orders/{order_id}/refunds.json"): "orders:write",
    ("GET", "/com/orders/{order_id}/refunds.json"): "orders:read",
    ("GET", "/com/orders/{order_id}/refunds/{refund_id}.json"): "orders:read",
    ("GET", "/orders"): "orders:read",
    ("GET", "/orders/{id}"): "orders:read",
    ("GET", "/orders/{id}/tax-details"): "orders:read",
    ("POST", "/orders/{id}/refresh"): "orders:read",  # a POST that only reads
    ("POST", "/orders"): "orders:write",
    ("POST", "/orders/{id}"): "orders:write",
    ("POST", "/v2/orders/anonymize"): "orders:anonymize",
    ("GET", "/v2/orders/{order_id}"): "orders:read",
}


def _scopes(dependant: Dependant) -> set[str]:
    found = {SCOPE_OF[dependant.call]} if dependant.call in SCOPE_OF else set()
    for sub in dependant.dependencies:
        found |= _scopes(sub)
    return found


def _routes(*routers: APIRouter) -> dict[tuple[str, str], set[str]]:
    return {
        (method, route.path_format): _scopes(route.dependant)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def test_every_keyed_route_needs_exactly_the_scope_of_what_it_does() -> None:
    routes = _routes(haravan.router, haravan_refunds.router, digital_river.router, elastic_path.router)
    assert routes == {route: {scope} for route, scope in EXPECTED.items()}


def test_the_public_guest_routes_need_no_scope() -> None:
    assert _routes(akinon.router) == {
        ("POST", "/users/orders/anonymous/"): set(),
        ("POST", "/users/orders/anonymous/cancellation_requests/"): set(),
        ("POST", "/users/orders/anonymous/bulk_cancellation_requests/"): set(),
    }
