"""order_api's `Idempotency-Key` on POSTs: the shared middleware (shared/idempotency.py) on order_api's
HTTP guards, which also remember the order an answer is about (its erasure deletes them)."""

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Scope

from services.order_api.api.http import problem_responses
from services.order_api.service.guards import HttpGuards
from services.order_api.settings import OrderApiSettings
from services.order_api.store import PostgresDatabase
from shared import idempotency
from shared.idempotency import KeyStore
from shared.runtime import Runtime


def runtime_guards(scope: Scope) -> HttpGuards:
    """The guards on the service's database, from the runtime the composition root published (a
    middleware is outside FastAPI's dependencies)."""
    runtime: Runtime[OrderApiSettings] = scope["app"].state.runtime
    return HttpGuards(PostgresDatabase(runtime.pool))


class IdempotencyMiddleware(idempotency.IdempotencyMiddleware):
    def __init__(
        self, app: ASGIApp, settings: OrderApiSettings, guards: Callable[[Scope], KeyStore] = runtime_guards
    ) -> None:
        super().__init__(app, settings, guards)


def document(app: FastAPI) -> None:
    """The header on every keyed POST of order_api's OpenAPI document, with its problems in order_api's words."""
    idempotency.document(app, problem_responses(409, 422))
