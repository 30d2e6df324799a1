"""`python -m services.webhook_dispatcher`: endpoints API, fan-out consumer and delivery senders."""

import httpx
from fastapi import FastAPI

from services.webhook_dispatcher.api import router
from services.webhook_dispatcher.handlers import subscribe
from services.webhook_dispatcher.safe_http import Destinations, safe_client
from services.webhook_dispatcher.sender import Sender, purge_history
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.periodic import run_periodically
from shared.runtime import Runtime, create_app, serve
from shared.services import WEBHOOK_DISPATCHER


def build() -> tuple[FastAPI, DispatcherSettings]:
    settings = DispatcherSettings.load(WEBHOOK_DISPATCHER)

    destinations = Destinations(settings.allowed_subnets, require_https=settings.require_https)
    timeout = httpx.Timeout(settings.total_timeout_seconds, connect=settings.connect_timeout_seconds)

    def new_client() -> httpx.AsyncClient:
        return safe_client(destinations, timeout=timeout, max_connections=settings.endpoint_concurrency)

    async def send_webhooks(runtime: Runtime[DispatcherSettings]) -> None:
        await Sender(runtime.pool, settings, new_client).run()

    async def purge_old_history(runtime: Runtime[DispatcherSettings]) -> None:
        await run_periodically(
            "purge webhook history", lambda: purge_history(runtime.pool, settings), settings.retention_interval_seconds
        )

    app = create_app(
        WEBHOOK_DISPATCHER,
        settings,
        title="Webhook dispatcher",
        routers=[router],
        subscriptions=subscribe,
        publishes=True,
        workers=[send_webhooks, purge_old_history],
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
