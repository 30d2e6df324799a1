"""`python -m services.cancellation_worker`: the operator API, the consumers of order events, guest
requests and reference facts, and the mail sender."""

from fastapi import FastAPI

from services.cancellation_worker.api import ROUTERS
from services.cancellation_worker.handlers import subscribe
from services.cancellation_worker.settings import CancellationSettings
from services.cancellation_worker.workers import send_emails
from shared.runtime import create_app, serve
from shared.services import CANCELLATION_WORKER


def build() -> tuple[FastAPI, CancellationSettings]:
    settings = CancellationSettings.load(CANCELLATION_WORKER)
    app = create_app(
        CANCELLATION_WORKER,
        settings,
        title="Cancellation worker",
        routers=ROUTERS,
        subscriptions=subscribe,
        publishes=True,
        workers=[send_emails],
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
