"""Requests for a path without parameters go straight to the route FastAPI's routing would choose.

FastAPI (0.165) keeps each included router as a node of the route tree: a request is matched against
its router's routes twice (once to choose the router, once inside it to choose the route), each
earlier route's pattern tried first; about 5 % of an order create's CPU in order_api. The index asks
FastAPI's own matching once, at the first request, which route each method and parameterless path
reaches, and then does for such a request what that routing does on its way to the route (the scope's
route, endpoint and path parameters, FastAPI's records of the router and the route as included,
form limits), nothing else. Every other request (a path with parameters, an unknown path, another
method, a trailing-slash redirect) goes through FastAPI's routing as before.

Routes are not added once the app serves: one added later is routed by FastAPI, and only a route
added before an indexed one, in the same or an earlier router, could have changed the choice.

What routing does to a request's scope is FastAPI's own business, so this uses its private functions
and keys: FastAPI is pinned (requirements.lock), and tests/unit/test_static_routes.py answers requests
both ways and compares what the endpoints saw, for the next upgrade to show what changed.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi.routing import (
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    APIRoute,
    APIRouter,
    _apply_router_form_limits,
    _EffectiveRouteContext,
    _get_fastapi_scope,
    _IncludedRouter,
    _update_scope,
)
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

# (method, path as routed): where such a request goes.
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class _Target:
    """A route as an included router holds it (`included` None: a route of the app's own router)."""

    route: APIRoute
    included: _IncludedRouter | None
    context: _EffectiveRouteContext | None


class StaticRoutes:
    """The innermost ASGI app of `router` (its `middleware_stack`): the index first, then the router."""

    def __init__(self, router: APIRouter) -> None:
        if router.middleware_stack != router.app:
            raise ValueError("the app's router has middleware or a body limit of its own, which the index would skip")
        self._router = router
        self._index: dict[Key, _Target] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._index is None:
                self._index = _index(self._router)
            target = self._index.get((scope["method"], get_route_path(scope)))
            if target is not None:
                await self._dispatch(target, scope, receive, send)
                return
        await self._router.app(scope, receive, send)

    async def _dispatch(self, target: _Target, scope: Scope, receive: Receive, send: Send) -> None:
        """What `APIRouter.app`, then `_IncludedRouter.handle` and `_handle_selected`, do to reach
        `target`, without matching again."""
        router = self._router
        _apply_router_form_limits(scope, router.form_limits)
        scope.setdefault("router", router)
        route, included, context = target.route, target.included, target.context
        if included is None or context is None:
            _, child_scope = route.matches(scope)
            _update_scope(scope, child_scope)
            _route_selected(scope=scope, path=route.path_format)
            await route.handle(scope, receive, send)
            return
        _apply_router_form_limits(scope, included.include_context.form_limits)
        fastapi_scope = _get_fastapi_scope(scope)
        fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = included
        _, child_scope = context.matches(scope)
        child_scope["route"] = route
        _update_scope(scope, child_scope)
        _route_selected(scope=scope, path=getattr(context.starlette_route, "path_format", None) or context.path_format)
        fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = context
        scope["route"] = route
        await route.handle(scope, receive, send)


def _index(router: APIRouter) -> dict[Key, _Target]:
    """Each parameterless path's methods, with the route FastAPI's routing chooses for them."""
    index: dict[Key, _Target] = {}
    for key in _static_keys(router):
        target = _chosen(router, key)
        if target is not None:
            index[key] = target
    return index


def _static_keys(router: APIRouter) -> Iterator[Key]:
    for candidate in router.routes:
        if isinstance(candidate, _IncludedRouter):
            for context in candidate.effective_candidates():
                if isinstance(context, _IncludedRouter) or not isinstance(context.original_route, APIRoute):
                    continue
                if not context.param_convertors:
                    yield from ((method, context.path_format) for method in context.methods)
        elif isinstance(candidate, APIRoute) and not candidate.param_convertors:
            yield from ((method, candidate.path_format) for method in candidate.methods or ())


def _chosen(router: APIRouter, key: Key) -> _Target | None:
    """The route `router` chooses for a request of `key`, as `APIRouter.app` and `_IncludedRouter._match`
    choose (the first full match); None when that is not one route of the app's router or of a router it
    includes directly."""
    method, path = key
    scope: Scope = {"type": "http", "method": method, "path": path, "root_path": "", "path_params": {}}
    for candidate in router.routes:
        match, _ = candidate.matches(scope)
        if match != Match.FULL:
            continue
        if isinstance(candidate, _IncludedRouter):
            inner, _, route, context = candidate._match(scope)
            if inner == Match.FULL and isinstance(route, APIRoute) and context is not None:
                return _Target(route, candidate, context)
            return None
        return _Target(candidate, None, None) if isinstance(candidate, APIRoute) else None
    return None
