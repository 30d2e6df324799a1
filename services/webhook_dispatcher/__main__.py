"""`python -m services.webhook_dispatcher`: endpoints API, fan-out consumer and delivery senders."""

from fastapi import FastAPI

from services.webhook_dispatcher import handlers, workers
from services.webhook_dispatcher.api import router
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.workers import export_endpoint_backlog, purge_old_history
from shared.runtime import Runtime, create_app, serve
from shared.services import WEBHOOK_DISPATCHER


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
        routers=[router],
        subscriptions=subscribe,
        publishes=True,
        workers=[send_webhooks, purge_old_history, export_endpoint_backlog],
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
