"""order_api's HTTP routes, one package per dialect (`haravan`, `digital_river`, `akinon`,
`elastic_path`), each a thin translation over the use cases (service/). What every
dialect shares: `http` (ETags, If-Match, JSON answers, documented problems, the use cases routes
receive), `contract` (JSON in and out), `fields` (amounts, rates, IP addresses), `security` (scopes),
`idempotency` (the Idempotency-Key middleware). `oauth` trades an API key for a short-lived access token.

The use cases' exceptions map to problem documents here, once, for every dialect that answers with
RFC 9457 problems; a dialect with its own documented error shape catches them itself.
"""

from typing import Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from services.order_api.api.akinon.routes import router as akinon_router
from services.order_api.api.contract import negotiate
from services.order_api.api.digital_river.routes import router as digital_river_router
from services.order_api.api.elastic_path.routes import router as elastic_path_router
from services.order_api.api.haravan.refund_routes import router as haravan_refunds_router
from services.order_api.api.haravan.routes import router as haravan_router
from services.order_api.api.http import etag, problem_responses
from services.order_api.api.oauth import GRANT_PATH
from services.order_api.api.oauth import router as oauth_router
from services.order_api.api.security import ORDERS_READ
from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError, OrderStateError, ReadAccessRequired
from services.order_api.service.errors import OrderNotFound, RateLimited, StaleVersion, UpstreamConflict
from shared.problems import problem_response

# Every route answers JSON only; the Haravan and Digital River ones also need an API key with the scope
# each names (security.READS, security.WRITES, security.MayRead). Akinon's guest routes are public
# (rate-limited instead).
_JSON_ONLY: Final = [Depends(negotiate)]
_KEYED: Final = (haravan_router, haravan_refunds_router, digital_river_router, elastic_path_router)


def include_routes(app: FastAPI) -> None:
    """Every dialect's routes, each router included in the app itself: a request is matched against
    each level of nested routers again (~10 % of a create's framework CPU with one more level)."""
    for keyed in _KEYED:
        app.include_router(keyed, dependencies=_JSON_ONLY, responses=problem_responses(400, 401, 403, 406, 413, 415))
    app.include_router(akinon_router, dependencies=_JSON_ONLY, responses=problem_responses(400, 406, 413, 415))
    # The token endpoint (oauth) takes a form, not JSON, and answers OAuth's errors, not problems.
    app.include_router(oauth_router)


# Where requests need no API key: the public router's routes, and the token endpoint, which carries
# its own credentials.
PUBLIC_PREFIXES: tuple[str, ...] = (akinon_router.prefix, GRANT_PATH)


def install_order_errors(app: FastAPI) -> None:
    async def on_rule(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OrderRuleError)
        field = "<body>" if exc.field == WHOLE_ORDER else exc.field  # the order as a whole
        errors = [{"field": field, "message": exc.message}]
        if isinstance(exc, ReadAccessRequired):
            return problem_response(
                403, exc.code, f"This API key lacks the scope {ORDERS_READ!r}: {exc.message}.", errors=errors
            )
        return problem_response(409 if isinstance(exc, OrderStateError) else 422, exc.code, exc.message, errors=errors)

    async def on_not_found(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OrderNotFound)
        return problem_response(404, "order_not_found", f"There is no order {exc.order_id}.")

    async def on_stale(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StaleVersion)
        return problem_response(
            412,
            "version_mismatch",
            f"The order changed since you read it (now version {exc.current}); fetch it and retry.",
            headers={"ETag": etag(exc.current)},
        )

    async def on_upstream(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UpstreamConflict)
        return problem_response(
            409,
            "upstream_id_conflict",
            f"An order with upstreamId {exc.upstream_id!r} already exists with different content.",
            errors=[{"field": "upstreamId", "message": "already used"}],
        )

    async def on_rate_limited(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RateLimited)
        return problem_response(
            429,
            "rate_limited",
            "Too many attempts; wait as long as Retry-After says before trying again.",
            headers={"Retry-After": str(exc.retry_after)},
        )

    app.add_exception_handler(OrderRuleError, on_rule)
    app.add_exception_handler(OrderNotFound, on_not_found)
    app.add_exception_handler(StaleVersion, on_stale)
    app.add_exception_handler(UpstreamConflict, on_upstream)
    app.add_exception_handler(RateLimited, on_rate_limited)
