"""`python -m services.webhook_dispatcher`: endpoints API, fan-out consumer and delivery senders."""

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import Scope

from services.webhook_dispatcher import handlers, workers
from services.webhook_dispatcher.api import router
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.operations_api import router as operations_router
from services.webhook_dispatcher.request_keys import RequestKeys
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.workers import (
    announce_recoveries,
    export_endpoint_backlog,
    export_endpoint_statistics,
    purge_expired_request_keys,
    purge_old_history,
)
from shared import idempotency
from shared.problems import problem_responses
from shared.runtime import Runtime, create_app, serve
from shared.services import WEBHOOK_DISPATCHER


def request_keys(scope: Scope) -> RequestKeys:
    """The admin API's Idempotency-Keys on the service's pool (a middleware is outside FastAPI's
    dependencies)."""
    runtime: Runtime[DispatcherSettings] = scope["app"].state.runtime
    return RequestKeys(runtime.pool)


def build() -> tuple[FastAPI, DispatcherSettings]:
    settings = DispatcherSettings.load(WEBHOOK_DISPATCHER)
    # What the fan-out writes for this instance's sender goes to it directly (handoff.py).
    handoff = Handoff(settings.lease)

    def subscribe(runtime: Runtime[DispatcherSettings]) -> None:
        handlers.subscribe(runtime, handoff)

    async def send_webhooks(runtime: Runtime[DispatcherSettings]) -> None:
        await workers.send_webhooks(runtime, handoff)

    app = create_app(
        WEBHOOK_DISPATCHER,
        settings,
        title="Webhook dispatcher",
        routers=[router, operations_router],
        subscriptions=subscribe,
        publishes=True,
        workers=[
            send_webhooks,
            purge_old_history,
            purge_expired_request_keys,
            export_endpoint_backlog,
            export_endpoint_statistics,
            announce_recoveries,
        ],
        # Inside the shared body limit: the idempotency middleware reads bodies, and sees bounded ones.
        middleware=[Middleware(idempotency.IdempotencyMiddleware, settings=settings, guards=request_keys)],
    )
    idempotency.document(
        app,
        problem_responses(
            {
                409: "A request with this Idempotency-Key is still being processed (`idempotency_key_in_use`)",
                422: "Invalid input, or an Idempotency-Key used for a different request (`idempotency_key_reused`)",
            }
        ),
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
