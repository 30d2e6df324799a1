"""Reference data the worker owns: cancellation reasons and easy-return shipping companies. The
operator's changes are kept here and published as facts on orders.ingest (order_api keeps copies to
validate guest requests); facts from others (the demo catalog) are applied here when consumed."""

from typing import Final

from pydantic import ValidationError

from services.cancellation_worker.service.ports import Ports
from services.cancellation_worker.service.publishing import SOURCE, Publisher
from shared.cancellations import CancellationReason, ShippingCompany
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.events import Envelope

REASON_FACT: Final = "cancellation.reason.upserted"
COMPANY_FACT: Final = "shipping_company.upserted"


class ReferenceService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports
        self._store = ports.store
        self._publish = Publisher(ports)

    async def upsert_reason(self, reason: CancellationReason) -> CancellationReason:
        async with self._ports.db.acquire() as conn, conn.transaction():
            await self._store.upsert_reason(conn, reason)
            await self._publish.fact(conn, REASON_FACT, reason.id, reason)
        return reason

    async def upsert_company(self, company: ShippingCompany) -> ShippingCompany:
        async with self._ports.db.acquire() as conn, conn.transaction():
            await self._store.upsert_company(conn, company)
            await self._publish.fact(conn, COMPANY_FACT, company.id, company)
        return company

    async def reasons(self) -> list[CancellationReason]:
        async with self._ports.db.acquire() as conn:
            return await self._store.list_reasons(conn)

    async def companies(self) -> list[ShippingCompany]:
        async with self._ports.db.acquire() as conn:
            return await self._store.list_companies(conn)

    async def fact(self, conn: Connection, event: Envelope) -> None:
        """A fact on orders.ingest: reasons and companies from others are applied (the worker's own are
        in its tables already); every other type is order_api's business and ignored."""
        if event.type not in (REASON_FACT, COMPANY_FACT) or event.source == SOURCE:
            return
        try:
            if event.type == REASON_FACT:
                await self._store.upsert_reason(conn, CancellationReason.model_validate_json(event.data_json))
            else:
                await self._store.upsert_company(conn, ShippingCompany.model_validate_json(event.data_json))
        except ValidationError as error:
            raise Unprocessable(f"{event.type} data is invalid: {error.errors()[0]['msg']}") from error
