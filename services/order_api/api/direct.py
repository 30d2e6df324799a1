"""A route class that solves a simple route's dependencies directly: FastAPI's general solver and
handler cost an order create about a seventh of the app's CPU (bench/README.md), most of it bookkeeping
for features such routes do not use (cache keys, security scopes, generators, query, header and cookie
parameters, worked out again per dependency and request).

A route is simple when it takes one JSON body (not embedded) and dependencies only, and each dependency,
all the way down, is a coroutine taking only the request (or connection) and other dependencies (no parameters, no
yield, no security scopes). Such a route's happy path runs here in FastAPI's own order: the body parsed
as JSON, the dependencies called depth first in their declared order, each once per request (FastAPI's
cache), the body validated by FastAPI's own function, then the endpoint, which must answer a Response
itself. Whatever a dependency or the endpoint raises propagates as under FastAPI. Anything else (no
body, a body that is not `application/json`, malformed JSON, an invalid body) is handed to FastAPI's
handler, which answers it exactly as always; the dependencies then run again, so they must not have
effects (they read the request and build objects). Every other route keeps FastAPI's handler.
"""

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from fastapi.routing import APIRoute, _effective_route_context_var
from starlette.exceptions import HTTPException

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# A dependency's call, or the endpoint, with the names its values go by.
Solved = dict[str, Any]


def _takes_only_dependencies(dependant: Dependant) -> bool:
    """Whether `dependant` takes nothing but the request and simple dependencies."""
    return (
        not (dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params)
        and dependant.websocket_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
        and not dependant.own_oauth_scopes
        and all(_is_simple_dependency(sub) for sub in dependant.dependencies)
    )


def _is_coroutine(call: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(call) or (
        not inspect.isroutine(call) and not inspect.isclass(call) and inspect.iscoroutinefunction(type(call).__call__)
    )


def _is_simple_dependency(dependant: Dependant) -> bool:
    return (
        dependant.call is not None
        and dependant.use_cache
        and dependant.scope is None
        and dependant.concurrency is None
        and not dependant.body_params
        and _is_coroutine(dependant.call)
        and _takes_only_dependencies(dependant)
    )


def is_simple(dependant: Dependant) -> bool:
    """Whether a route's dependant qualifies: one body, simple dependencies, a coroutine endpoint."""
    return (
        dependant.call is not None
        and inspect.iscoroutinefunction(dependant.call)
        and len(dependant.body_params) == 1
        and _takes_only_dependencies(dependant)
    )


async def _solve(dependant: Dependant, request: Request, cache: dict[Callable[..., Any], Any]) -> Solved:
    """The values of `dependant`'s dependencies and request parameter, as FastAPI would pass them."""
    values: Solved = {}
    for sub in dependant.dependencies:
        call = sub.call
        assert call is not None
        if call not in cache:
            cache[call] = await call(**await _solve(sub, request, cache))
        if sub.name is not None:  # None: a `dependencies=[...]` one, called for its checks only
            values[sub.name] = cache[call]
    for name in (dependant.request_param_name, dependant.http_connection_param_name):
        if name is not None:
            values[name] = request
    return values


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json"


class DirectRoute(APIRoute):
    """An APIRoute whose handler solves a simple route directly (see the module), and hands every other
    request, and every other route, to FastAPI's."""

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        # The route as included (the including router's dependencies added), as FastAPI's handler sees it.
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        dependant = route.dependant
        if dependant is None or not is_simple(dependant) or route._embed_body_fields:
            return standard
        endpoint = dependant.call
        assert endpoint is not None
        body_params = dependant.body_params
        overrides = route.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            overridden = overrides is not None and getattr(overrides, "dependency_overrides", None)
            if overridden or not _is_json(request):
                return await standard(request)
            try:
                body = await request.json() if await request.body() else None
            except HTTPException:  # the body limit's 413 or 408, which FastAPI's handler passes on too
                raise
            except Exception:  # malformed JSON, a body that broke off: FastAPI's answers to them
                return await standard(request)
            if body is None:
                return await standard(request)
            values = await _solve(dependant, request, {})
            body_values, errors = await request_body_to_args(body_params, body, embed_body_fields=False)
            if errors:
                return await standard(request)
            response = await endpoint(**values, **body_values)
            assert isinstance(response, Response), "a direct route's endpoint answers a Response"
            return response

        return handler
