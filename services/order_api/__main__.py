"""`python -m services.order_api`: the order API in every dialect, its outbox relay and its ingest consumer."""

from fastapi import FastAPI

from services.order_api.api import ROUTERS, install_order_errors
from services.order_api.handlers import subscribe
from shared.runtime import create_app, serve
from shared.services import ORDER_API
from shared.settings import ServiceSettings


def build() -> tuple[FastAPI, ServiceSettings]:
    settings = ServiceSettings.load(ORDER_API)
    app = create_app(ORDER_API, settings, title="Order API", routers=ROUTERS, subscriptions=subscribe, publishes=True)
    install_order_errors(app)
    return app, settings


if __name__ == "__main__":
    serve(*build())
