"""`python -m services.anonymizer`."""

from fastapi import FastAPI

from services.anonymizer.handlers import subscribe
from shared.runtime import create_app, serve
from shared.services import ANONYMIZER
from shared.settings import ServiceSettings


def build() -> tuple[FastAPI, ServiceSettings]:
    settings = ServiceSettings.load(ANONYMIZER)
    return create_app(ANONYMIZER, settings, title="Anonymizer", subscriptions=subscribe), settings


if __name__ == "__main__":
    serve(*build())
