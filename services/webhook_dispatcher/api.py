"""The dispatcher's HTTP routes: register and read webhook endpoints."""

import uuid
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from services.webhook_dispatcher import store
from services.webhook_dispatcher.domain import generate_secret
from shared.problems import Problem
from shared.runtime import RuntimeDep

router = APIRouter(tags=["webhooks"])

EventTypeFilter = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$", max_length=100)]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="http(s) URL the events are POSTed to")
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    event_types: list[EventTypeFilter] = Field(
        default_factory=list, max_length=100, description="e.g. order.created or order.*; empty means all"
    )


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "EndpointOut":
        return cls.model_validate(dict(row))


class EndpointCreated(EndpointOut):
    secret: str = Field(description="The signing secret. Shown only in this response: store it now.")


@router.post("/webhooks", status_code=201, response_model=EndpointCreated)
async def create_endpoint(body: EndpointIn, runtime: RuntimeDep, response: Response) -> EndpointCreated:
    """Register an endpoint; the answer carries its signing secret, which is never shown again."""
    secret = generate_secret()
    async with runtime.pool.acquire() as conn:
        row = await store.insert_endpoint(conn, str(body.url), body.description, body.event_types, secret)
    response.headers["Location"] = f"/webhooks/{row['id']}"
    return EndpointCreated(**EndpointOut.from_row(row).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[EndpointOut])
async def list_endpoints(runtime: RuntimeDep) -> list[EndpointOut]:
    async with runtime.pool.acquire() as conn:
        return [EndpointOut.from_row(row) for row in await store.list_endpoints(conn)]


@router.get("/webhooks/{endpoint_id}", response_model=EndpointOut, responses={404: {"description": "no such endpoint"}})
async def get_endpoint(endpoint_id: uuid.UUID, runtime: RuntimeDep) -> EndpointOut:
    async with runtime.pool.acquire() as conn:
        row = await store.fetch_endpoint(conn, endpoint_id)
    if row is None:
        raise Problem(404, "endpoint_not_found", f"There is no webhook endpoint {endpoint_id}.")
    return EndpointOut.from_row(row)
