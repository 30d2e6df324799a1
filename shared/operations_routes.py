"""The routes every service serves for its operators: liveness, readiness and Prometheus metrics."""

import asyncio
from typing import Annotated, Protocol

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from shared.db import TRANSIENT_DB_ERRORS
from shared.kafka import EventProducer

READY = Gauge("service_ready", "1 when the instance can do its work (database and Kafka reachable), else 0")
DEPENDENCY_UP = Gauge("service_dependency_up", "1 when the dependency answers, else 0", ["dependency"])


class Dependencies(Protocol):
    """What readiness checks: the service's runtime, as the composition root put it on the app."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def producer(self) -> EventProducer: ...


async def _dependencies(request: Request) -> Dependencies:
    runtime: Dependencies = request.app.state.runtime
    return runtime


def operations_router() -> APIRouter:
    """/health/live, /health/ready and /metrics, for every service."""
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        """The process is up and its event loop answers."""
        return {"status": "ok"}

    @router.get("/health/ready", responses={503: {"description": "a dependency is unreachable"}})
    async def ready(runtime: Annotated[Dependencies, Depends(_dependencies)]) -> JSONResponse:
        """Database and Kafka are reachable: the instance can do its work."""
        reachable = await _readiness(runtime)
        checks = {name: "ok" if up else "unreachable" for name, up in reachable.items()}
        ok = all(reachable.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)

    @router.get("/metrics", response_class=Response)
    async def metrics(runtime: Annotated[Dependencies, Depends(_dependencies)]) -> Response:
        """Prometheus metrics; readiness is checked as /health/ready checks it."""
        reachable = await _readiness(runtime)
        for name, up in reachable.items():
            DEPENDENCY_UP.labels(name).set(up)
        READY.set(all(reachable.values()))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _readiness(runtime: Dependencies) -> dict[str, bool]:
    """Whether each dependency answers now: the database, Kafka."""
    return {"database": await _database_reachable(runtime.pool), "kafka": await runtime.producer.reachable()}


# Whatever keeps `SELECT 1` from answering means the instance is not ready.
_NOT_READY: tuple[type[Exception], ...] = (TimeoutError, asyncpg.PostgresError, *TRANSIENT_DB_ERRORS)


async def _database_reachable(pool: asyncpg.Pool) -> bool:
    try:
        async with asyncio.timeout(2.0):
            await pool.fetchval("SELECT 1")
    except _NOT_READY:
        return False
    return True
