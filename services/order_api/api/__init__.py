"""order_api's HTTP routes, one module per dialect, each a thin translation over service.py.

The service's exceptions map to problem documents here, once, for every dialect that answers with
RFC 9457 problems; a dialect with its own documented error shape catches them itself.
"""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from services.order_api.api import digital_river, haravan
from services.order_api.domain import OrderRuleError, OrderStateError
from services.order_api.service import OrderNotFound, StaleVersion, UpstreamConflict
from shared.problems import problem_response

ROUTERS: tuple[APIRouter, ...] = (haravan.router, digital_river.router)


def install_order_errors(app: FastAPI) -> None:
    async def on_rule(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OrderRuleError)
        status = 409 if isinstance(exc, OrderStateError) else 422
        return problem_response(status, exc.code, exc.message, errors=[{"field": exc.field, "message": exc.message}])

    async def on_not_found(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OrderNotFound)
        return problem_response(404, "order_not_found", f"There is no order {exc.order_id}.")

    async def on_stale(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StaleVersion)
        return problem_response(
            412,
            "version_mismatch",
            f"The order changed since you read it (now version {exc.current}); fetch it and retry.",
            headers={"ETag": f'"{exc.current}"'},
        )

    async def on_upstream(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UpstreamConflict)
        return problem_response(
            409,
            "upstream_id_conflict",
            f"An order with upstreamId {exc.upstream_id!r} already exists with different content.",
            errors=[{"field": "upstreamId", "message": "already used"}],
        )

    app.add_exception_handler(OrderRuleError, on_rule)
    app.add_exception_handler(OrderNotFound, on_not_found)
    app.add_exception_handler(StaleVersion, on_stale)
    app.add_exception_handler(UpstreamConflict, on_upstream)
