"""`python -m services.order_api`: the order API, its outbox relay, and (later) its ingest consumer."""

from fastapi import FastAPI

from services.order_api.api import router
from shared.runtime import create_app, serve
from shared.services import ORDER_API
from shared.settings import ServiceSettings


def build() -> tuple[FastAPI, ServiceSettings]:
    settings = ServiceSettings.load(ORDER_API)
    app = create_app(ORDER_API, settings, title="Order API", routers=[router], publishes=True)
    return app, settings


if __name__ == "__main__":
    serve(*build())
