"""`python -m services.anonymizer`: the erasure API, the consumers of order events and erasure
receipts, the erasure deadline check, the retention sweep (when a retention period is set), and the
outbox relay of its requests."""

from fastapi import FastAPI

from services.anonymizer.api import router
from services.anonymizer.handlers import subscribe
from services.anonymizer.settings import AnonymizerSettings
from services.anonymizer.workers import overdue_erasures, retention_sweep
from shared.runtime import create_app, serve
from shared.services import ANONYMIZER


def build() -> tuple[FastAPI, AnonymizerSettings]:
    settings = AnonymizerSettings.load(ANONYMIZER)
    app = create_app(
        ANONYMIZER,
        settings,
        title="Anonymizer",
        routers=[router],
        subscriptions=subscribe,
        publishes=True,
        workers=[overdue_erasures, *([retention_sweep] if settings.retention_days is not None else [])],
    )
    return app, settings


if __name__ == "__main__":
    serve(*build())
