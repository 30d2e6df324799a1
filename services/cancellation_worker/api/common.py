"""What the operator API's routes share: the scope, the use cases on the service's pool, and the
refusals of the domain worded as problems."""

import contextlib
from collections.abc import Iterator
from typing import Annotated, Final

from fastapi import APIRouter, Depends

from services.cancellation_worker.domain.ledger import LedgerRefused
from services.cancellation_worker.domain.requests import RequestRefused
from services.cancellation_worker.service import postgres_ports
from services.cancellation_worker.service.reference import ReferenceService
from services.cancellation_worker.service.refunds import OrderNotFound, RefundService
from services.cancellation_worker.service.requests import RequestNotFound, RequestService
from services.cancellation_worker.settings import CancellationSettings
from shared.problems import Problem
from shared.runtime import Runtime, get_runtime
from shared.scoped_router import scoped_router

SCOPE: Final = "cancellations:admin"
NOT_FOUND_CODES: Final = frozenset({"refund_not_found"})


def operator_router(tag: str) -> APIRouter:
    return scoped_router(tag, SCOPE)


RuntimeDep = Annotated[Runtime[CancellationSettings], Depends(get_runtime)]


async def get_requests(runtime: RuntimeDep) -> RequestService:
    return RequestService(postgres_ports(runtime.pool, runtime.settings))


async def get_refunds(runtime: RuntimeDep) -> RefundService:
    return RefundService(postgres_ports(runtime.pool, runtime.settings))


async def get_reference(runtime: RuntimeDep) -> ReferenceService:
    return ReferenceService(postgres_ports(runtime.pool, runtime.settings))


Requests = Annotated[RequestService, Depends(get_requests)]
Refunds = Annotated[RefundService, Depends(get_refunds)]
Reference = Annotated[ReferenceService, Depends(get_reference)]


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """The use cases' refusals, as the API answers them."""
    try:
        yield
    except RequestNotFound as error:
        raise Problem(404, "request_not_found", str(error)) from error
    except OrderNotFound as error:
        raise Problem(404, "order_not_found", str(error)) from error
    except (RequestRefused, LedgerRefused) as error:
        status = 404 if error.code in NOT_FOUND_CODES else 409
        raise Problem(
            status, error.code, error.message, errors=[{"field": error.field, "message": error.message}]
        ) from error
