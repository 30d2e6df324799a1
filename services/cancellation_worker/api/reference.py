"""Reference data: cancellation reasons and easy-return shipping companies; each change is published
to order_api as a fact."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.cancellation_worker.api.common import Reference, operator_router
from shared.cancellations import CancellationReason, ShippingCompany
from shared.fields import BigintId, StorableText

router = operator_router("reference data")

Name = Annotated[StorableText, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    active: bool = True


class CompanyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    easy_return: bool = True
    active: bool = True


class ReasonOut(BaseModel):
    id: int
    name: str
    active: bool


class CompanyOut(BaseModel):
    id: int
    name: str
    easy_return: bool
    active: bool


@router.get("/cancellation-reasons", response_model=list[ReasonOut])
async def list_reasons(service: Reference) -> list[ReasonOut]:
    return [ReasonOut(**reason.model_dump()) for reason in await service.reasons()]


@router.put("/cancellation-reasons/{reason_id}", response_model=ReasonOut)
async def put_reason(reason_id: BigintId, body: ReasonIn, service: Reference) -> ReasonOut:
    """Create or change a reason guests may give (an inactive one is refused to new requests)."""
    reason = await service.upsert_reason(CancellationReason(id=reason_id, **body.model_dump()))
    return ReasonOut(**reason.model_dump())


@router.get("/shipping-companies", response_model=list[CompanyOut])
async def list_companies(service: Reference) -> list[CompanyOut]:
    return [CompanyOut(**company.model_dump()) for company in await service.companies()]


@router.put("/shipping-companies/{company_id}", response_model=CompanyOut)
async def put_company(company_id: BigintId, body: CompanyIn, service: Reference) -> CompanyOut:
    """Create or change a shipping company; only active easy-return ones take guests' returns."""
    company = await service.upsert_company(ShippingCompany(id=company_id, **body.model_dump()))
    return CompanyOut(**company.model_dump())
