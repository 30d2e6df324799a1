"""`python -m services.webhook_dispatcher`: endpoints API, fan-out consumer and delivery senders."""

from fastapi import FastAPI

from services.webhook_dispatcher.api import router
from services.webhook_dispatcher.handlers import subscribe
from services.webhook_dispatcher.settings import DispatcherSettings
from services.webhook_dispatcher.workers import (
    announce_recoveries,
    export_endpoint_backlog,
    purge_old_history,
    send_webhooks,
)
from shared.runtime import create_app, serve
from shared.services import WEBHOOK_DISPATCHER


def build() -> tuple[FastAPI, DispatcherSettings]:
    settings = DispatcherSettings.load(WEBHOOK_DISPATCHER)
    app = create_app(
        WEBHOOK_DISPATCHER,
        settings,
        title="Webhook dispatcher",
        routers=[router],
        subscriptions=subscribe,
        publishes=True,
        workers=[send_webhooks, purge_old_history, export_endpoint_backlog, announce_recoveries],
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
