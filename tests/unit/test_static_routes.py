"""StaticRoutes (shared/static_routes.py): a request answered through the index reaches the route
FastAPI's own routing would choose, with the same scope, and everything else is routed by FastAPI."""

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from services.order_api.__main__ import build
from shared.static_routes import StaticRoutes, _chosen, _index


def _seen(request: Request) -> dict[str, Any]:
    """What routing left in the scope for the endpoint, by name (the same app serves both ways)."""
    fastapi_scope = request.scope.get("fastapi", {})
    effective = fastapi_scope.get("effective_route_context")
    return {
        "route": request.scope["route"].name,
        "endpoint": request.scope["endpoint"].__name__,
        "path_params": request.scope["path_params"],
        "included": fastapi_scope.get("included_router") is not None,
        "effective": effective.path_format if effective is not None else None,
        "router": request.scope["router"] is request.app.router,
    }


def _app() -> FastAPI:
    async def refuse_teapots(request: Request) -> None:
        if request.headers.get("x-teapot"):
            raise HTTPException(418, "no teapots")

    items = APIRouter(prefix="/items")

    # Declared before the static path it also matches: FastAPI chooses it for /items/count.
    @items.get("/{name}")
    async def one_item(name: str, request: Request) -> dict[str, Any]:
        return {"one": name, **_seen(request)}

    @items.get("/count")
    async def count_items(request: Request) -> dict[str, Any]:  # pragma: no cover - shadowed on purpose
        return {"count": 0, **_seen(request)}

    @items.post("/new", status_code=201)
    async def create_item(request: Request) -> dict[str, Any]:
        return {"created": await request.json(), **_seen(request)}

    @items.get("/new")
    async def new_item_form(request: Request) -> dict[str, Any]:  # pragma: no cover - shadowed on purpose
        return {"form": True, **_seen(request)}

    app = FastAPI()
    app.include_router(items, dependencies=[Depends(refuse_teapots)])

    @app.get("/plain")
    async def plain(request: Request) -> dict[str, Any]:
        return {"plain": True, **_seen(request)}

    app.router.middleware_stack = StaticRoutes(app.router)
    return app


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/items/new", {"json": {"name": "widget"}}),
    ("POST", "/items/new", {"json": {"name": "widget"}, "headers": {"x-teapot": "1"}}),
    ("GET", "/items/new", {}),
    ("PUT", "/items/new", {}),
    ("GET", "/items/count", {}),
    ("GET", "/items/widget", {}),
    ("GET", "/plain", {}),
    ("GET", "/plain/", {}),
    ("GET", "/nowhere", {}),
]


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
def test_a_request_answers_as_through_fastapis_routing(method: str, path: str, options: dict[str, Any]) -> None:
    app = _app()
    index = app.router.middleware_stack
    with TestClient(app, follow_redirects=False) as client:
        through_index = client.request(method, path, **options)
        app.router.middleware_stack = app.router.app
        routed = client.request(method, path, **options)
        app.router.middleware_stack = index
    assert (through_index.status_code, through_index.headers, through_index.content) == (
        routed.status_code,
        routed.headers,
        routed.content,
    )


def test_the_index_holds_the_routes_fastapi_chooses() -> None:
    app = _app()
    index = _index(app.router)
    # GET /items/new and /items/count go to the route with a parameter declared before theirs.
    assert {key: target.route.name for key, target in index.items()} == {
        ("POST", "/items/new"): "create_item",
        ("GET", "/items/new"): "one_item",
        ("GET", "/items/count"): "one_item",
        ("GET", "/plain"): "plain",
    }
    assert _chosen(app.router, ("GET", "/nowhere")) is None


def test_the_order_creates_take_the_index() -> None:
    app, _ = build()
    index = _index(app.router)
    assert index[("POST", "/com/orders.json")].route.name == "create_order"
    assert index[("POST", "/orders")].route.name == "create_order"
    assert isinstance(app.router.middleware_stack, StaticRoutes)


def test_router_middleware_is_refused() -> None:
    app = FastAPI()
    app.router.middleware_stack = StaticRoutes(app.router)
    with pytest.raises(ValueError, match="middleware"):
        StaticRoutes(app.router)
