"""`python -m services.webhook_dispatcher`: endpoints API, fan-out consumer and delivery senders."""

import httpx
from fastapi import FastAPI

from services.webhook_dispatcher.api import router
from services.webhook_dispatcher.handlers import subscribe
from services.webhook_dispatcher.sender import Sender
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.runtime import Runtime, create_app, serve
from shared.services import WEBHOOK_DISPATCHER


def build() -> tuple[FastAPI, DispatcherSettings]:
    settings = DispatcherSettings.load(WEBHOOK_DISPATCHER)

    async def send_webhooks(runtime: Runtime) -> None:
        timeout = httpx.Timeout(settings.total_timeout_seconds, connect=settings.connect_timeout_seconds)
        limits = httpx.Limits(max_connections=settings.sender_concurrency)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
            await Sender(runtime.pool, settings, client).run()

    app = create_app(
        WEBHOOK_DISPATCHER,
        settings,
        title="Webhook dispatcher",
        routers=[router],
        subscriptions=subscribe,
        workers=[send_webhooks],
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
