"""`python -m services.cancellation_worker`."""

from fastapi import FastAPI

from services.cancellation_worker.handlers import subscribe
from shared.runtime import create_app, serve
from shared.services import CANCELLATION_WORKER
from shared.settings import ServiceSettings


def build() -> tuple[FastAPI, ServiceSettings]:
    settings = ServiceSettings.load(CANCELLATION_WORKER)
    return create_app(CANCELLATION_WORKER, settings, title="Cancellation worker", subscriptions=subscribe), settings


if __name__ == "__main__":
    serve(*build())
