"""order_api's copies of the cancellation reference data: reasons a guest may give and the shipping
companies that take easy returns, as the `cancellation.reason.upserted` / `shipping_company.upserted`
facts describe them."""

from collections.abc import Sequence

from shared.cancellations import CancellationReason, ShippingCompany
from shared.db import Statements


class ReferenceRows:
    """Cancellation reasons and shipping companies, through `conn` (`shared.db.Statements`)."""

    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def upsert_reason(self, reason: CancellationReason) -> None:
        await self.conn.execute(
            """INSERT INTO cancellation_reasons (id, name, active) VALUES ($1, $2, $3)
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, active = excluded.active, updated_at = now()""",
            reason.id,
            reason.name,
            reason.active,
        )

    async def upsert_shipping_company(self, company: ShippingCompany) -> None:
        await self.conn.execute(
            """INSERT INTO shipping_companies (id, name, easy_return, active) VALUES ($1, $2, $3, $4)
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, easy_return = excluded.easy_return,
                   active = excluded.active, updated_at = now()""",
            company.id,
            company.name,
            company.easy_return,
            company.active,
        )

    async def active_reasons(self, ids: Sequence[int]) -> set[int]:
        rows = await self.conn.fetch(
            "SELECT id FROM cancellation_reasons WHERE id = ANY($1::bigint[]) AND active", list(ids)
        )
        return {row["id"] for row in rows}

    async def return_companies(self, ids: Sequence[int]) -> set[int]:
        rows = await self.conn.fetch(
            "SELECT id FROM shipping_companies WHERE id = ANY($1::bigint[]) AND active AND easy_return", list(ids)
        )
        return {row["id"] for row in rows}
