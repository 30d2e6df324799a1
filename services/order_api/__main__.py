"""`python -m services.order_api`: the order API in every dialect, its outbox relay and its ingest consumer."""

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.order_api.api import PUBLIC_PREFIXES, idempotency, include_routes, install_order_errors
from services.order_api.api.dialect_errors import DialectErrors
from services.order_api.api.elastic_path import errors as elastic_path
from services.order_api.api.haravan import errors as haravan
from services.order_api.handlers import subscribe
from services.order_api.settings import OrderApiSettings
from services.order_api.store.orders import Gatherings
from services.order_api.workers import fold_order_counts, purge_http_guards
from shared.runtime import create_app, serve
from shared.services import ORDER_API


def build() -> tuple[FastAPI, OrderApiSettings]:
    settings = OrderApiSettings.load(ORDER_API)

    app = create_app(
        ORDER_API,
        settings,
        title="Order API",
        subscriptions=subscribe,
        publishes=True,
        workers=[purge_http_guards, fold_order_counts],
        # Inside the shared body limit: the idempotency middleware reads bodies, and sees bounded ones.
        middleware=[Middleware(idempotency.IdempotencyMiddleware, settings=settings)],
        public_prefixes=PUBLIC_PREFIXES,
    )
    # The routes' creates draw their orders' ids and insert new orders together (store/gathering.py).
    app.state.gatherings = Gatherings()
    include_routes(app)
    install_order_errors(app)
    # Outermost: every problem answer of the Haravan and Elastic Path dialects, the edge's included, in
    # the dialect's shape.
    app.add_middleware(DialectErrors, prefix=haravan.PREFIX, reshape=haravan.shopify_errors)
    app.add_middleware(DialectErrors, prefix=elastic_path.PREFIX, reshape=elastic_path.elastic_path_errors)
    idempotency.document(app)
    return app, settings


def app() -> FastAPI:
    """The app of each worker process when ORDER_API_WORKERS > 1."""
    return build()[0]


if __name__ == "__main__":
    application, settings = build()
    serve(application, settings, workers=settings.workers, factory="services.order_api.__main__:app")
