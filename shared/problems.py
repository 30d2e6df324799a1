"""RFC 9457 problem details: every HTTP error answers `application/problem+json` with a stable `code`
(what a client branches on), a human `detail` (what to fix) and, for bad input, the offending fields."""

from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.db import TRANSIENT_DB_ERRORS
from shared.logging import get_logger

PROBLEM_JSON: Final = "application/problem+json"
_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
log = get_logger(__name__)

_CODES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


# How long a client is asked to wait when the database cannot be reached.
UNAVAILABLE_RETRY_AFTER_SECONDS: Final = 5


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers


def invalid_field(field: str, message: str, *, detail: str | None = None) -> Problem:
    """A 422 `validation_error` naming one field and what is wrong with it; `detail` defaults to
    `field: message`."""
    return Problem(
        422, "validation_error", detail or f"{field}: {message}", errors=[{"field": field, "message": message}]
    )


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def unavailable_response(error: BaseException) -> JSONResponse:
    """503 for a request that needed the database while it cannot be reached: not the request's fault,
    and worth retrying shortly."""
    log.warning("database unavailable", error=f"{type(error).__name__}: {error}")
    return problem_response(
        503,
        "database_unavailable",
        "The database cannot be reached right now; nothing was changed. Retry after Retry-After seconds.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


def _title(status: int) -> str:
    return _CODES.get(status, "error").replace("_", " ").capitalize()


def field_path(location: tuple[int | str, ...]) -> str:
    """`("body", "line_items", 0, "price")` -> `line_items[0].price`."""
    path = ""
    for part in location[1:] if location and location[0] in ("body", "query", "path", "header") else location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "<body>"


class ProblemDocument(BaseModel):
    """An RFC 9457 problem: `code` is stable (branch on it), `errors` names the fields to fix."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, str]] | None = None


_PROBLEM_SCHEMA: Final = ProblemDocument.model_json_schema()


def problem_responses(
    descriptions: Mapping[int, str], schema: Mapping[str, Any] = _PROBLEM_SCHEMA
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting problem answers, status -> what it means, in `schema` (a
    dialect with its own error members documents its own). A 422 given here replaces FastAPI's default
    one, which documents a body and content type we never send."""
    return {
        status: {"description": description, "content": {PROBLEM_JSON: {"schema": dict(schema)}}}
        for status, description in descriptions.items()
    }


# What every service's HTTP edge may answer on any route (shared.body_limit, the 503 handlers).
EDGE_RESPONSES: Final = problem_responses(
    {
        408: "The request body did not arrive in time",
        413: "The request body is too large",
        503: "The database cannot be reached right now; retry after `Retry-After` seconds",
    }
)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path, probed through the routes' `matches`
    (which also looks into included routers)."""
    allowed = []
    for method in _METHODS:
        probe = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", "")}
        if any(route.matches({**probe, "method": method})[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.code, exc.detail, errors=exc.errors, headers=exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": field_path(tuple(item["loc"])), "message": item["msg"], "type": item["type"]}
            for item in exc.errors()
        ]
        if any(item["type"] == "json_invalid" for item in exc.errors()):
            return problem_response(400, "malformed_json", "The request body is not valid JSON.", errors=errors)
        return problem_response(
            422, "validation_error", "The request has invalid or missing fields; see errors.", errors=errors
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _CODES.get(exc.status_code, "error")
        detail, headers = str(exc.detail), exc.headers
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route on the path only.
            allow = ", ".join(_allowed_methods(request))
            detail, headers = f"{request.method} is not allowed here; use {allow}.", {**(headers or {}), "Allow": allow}
        return problem_response(exc.status_code, code, detail, headers=headers)

    async def on_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return unavailable_response(exc)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", error=repr(exc))
        return problem_response(500, "internal_error", "An unexpected error occurred; it has been logged.")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for transient in TRANSIENT_DB_ERRORS:
        app.add_exception_handler(transient, on_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
