"""DirectRoute (services/order_api/api/direct.py): a simple route answers exactly as under FastAPI's own
handler, whatever the request, and the order creates stay simple enough to take the direct path."""

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from services.order_api.api.digital_river import routes as digital_river
from services.order_api.api.direct import DirectRoute, is_simple
from services.order_api.api.haravan import routes as haravan
from shared.body_limit import BodyLimitMiddleware

_bearer = HTTPBearer(auto_error=False)


class Item(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)


def _app(route_class: type[APIRoute], calls: list[str]) -> FastAPI:
    async def refuse_teapots(request: Request) -> None:
        calls.append("refuse_teapots")
        if request.headers.get("x-teapot"):
            raise HTTPException(418, "no teapots")

    async def caller(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> str:
        calls.append("caller")
        return credentials.credentials if credentials else "anonymous"

    async def greeting(request: Request, who: Annotated[str, Depends(caller)]) -> str:
        calls.append("greeting")
        return f"hello {who}"

    router = APIRouter(route_class=route_class)

    @router.post("/items", status_code=201)
    async def create(
        item: Item, who: Annotated[str, Depends(caller)], greeting: Annotated[str, Depends(greeting)]
    ) -> Response:
        if item.name == "boom":
            raise HTTPException(409, "boom")
        return Response(f"{greeting}: {item.quantity} x {item.name} for {who}", 201)

    app = FastAPI()
    app.include_router(router, dependencies=[Depends(refuse_teapots)])
    return app


REQUESTS: list[dict[str, Any]] = [
    {"json": {"name": "widget", "quantity": 2}},
    {"json": {"name": "widget", "quantity": 2}, "headers": {"authorization": "Bearer k1"}},
    {"json": {"name": "boom", "quantity": 1}},
    {"json": {"name": "", "quantity": 0}},
    {"json": ["not", "an", "object"]},
    {"content": b'{"name": "widget", ', "headers": {"content-type": "application/json"}},
    {"content": b"", "headers": {"content-type": "application/json"}},
    {"content": b'{"name": "widget", "quantity": 2}', "headers": {"content-type": "text/plain"}},
    {"content": b'{"name": "widget", "quantity": 2}', "headers": {"content-type": "application/merge-patch+json"}},
    {"json": {"name": "widget", "quantity": 2}, "headers": {"x-teapot": "1"}},
    {"json": {"name": "", "quantity": 2}, "headers": {"x-teapot": "1"}},
]


@pytest.mark.parametrize("request_", REQUESTS)
def test_a_direct_route_answers_every_request_as_fastapis_handler_does(request_: dict[str, Any]) -> None:
    direct_calls: list[str] = []
    standard_calls: list[str] = []
    with TestClient(_app(DirectRoute, direct_calls)) as direct, TestClient(_app(APIRoute, standard_calls)) as standard:
        ours, theirs = direct.post("/items", **request_), standard.post("/items", **request_)
    assert (
        ours.status_code,
        ours.headers.get("content-type"),
        ours.json() if ours.status_code != 201 else ours.text,
    ) == (
        theirs.status_code,
        theirs.headers.get("content-type"),
        theirs.json() if theirs.status_code != 201 else theirs.text,
    )
    if ours.status_code == 201:
        # Each dependency once per request, in FastAPI's order: the router's, then the route's depth first.
        assert direct_calls == standard_calls == ["refuse_teapots", "caller", "greeting"]


def test_a_body_over_the_limit_is_refused_as_under_fastapis_handler() -> None:
    answers = []
    for route_class in (DirectRoute, APIRoute):
        app = _app(route_class, [])
        app.add_middleware(BodyLimitMiddleware, max_bytes=64, timeout_seconds=5.0)
        # Streamed (no Content-Length): refused while the route reads it, not up front.
        chunks = iter([b'{"name": "', b"w" * 100, b'", "quantity": 2}'])
        with TestClient(app) as client:
            answer = client.post("/items", content=chunks, headers={"content-type": "application/json"})
        answers.append((answer.status_code, answer.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 413


def test_a_direct_route_uses_the_apps_dependency_overrides() -> None:
    calls: list[str] = []
    app = _app(DirectRoute, calls)
    with TestClient(app) as client:
        first = client.post("/items", json={"name": "widget", "quantity": 1})
        app.dependency_overrides[_bearer] = lambda: HTTPAuthorizationCredentials(scheme="Bearer", credentials="stub")
        overridden = client.post("/items", json={"name": "widget", "quantity": 1})
    assert first.text == "hello anonymous: 1 x widget for anonymous"
    assert overridden.text == "hello stub: 1 x widget for stub"


def _create_route(router: APIRouter, path: str) -> APIRoute:
    return next(
        route
        for route in router.routes
        if isinstance(route, APIRoute) and route.path == path and "POST" in (route.methods or set())
    )


@pytest.mark.parametrize(("router", "path"), [(haravan.router, "/com/orders.json"), (digital_river.router, "/orders")])
def test_the_order_creates_take_the_direct_path(router: APIRouter, path: str) -> None:
    # A query, header or path parameter, or a dependency that is not a plain coroutine, would send every
    # create back through FastAPI's general solver (bench/order_create.py would show it).
    route = _create_route(router, path)
    assert isinstance(route, DirectRoute)
    assert is_simple(route.dependant)
