"""Reference data the worker owns: cancellation reasons and (easy-return) shipping companies."""

from shared.cancellations import CancellationReason, ShippingCompany
from shared.db import Connection


async def upsert_reason(conn: Connection, reason: CancellationReason) -> None:
    await conn.execute(
        """INSERT INTO cancellation_reasons (id, name, active) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, active = excluded.active, updated_at = now()""",
        reason.id,
        reason.name,
        reason.active,
    )


async def list_reasons(conn: Connection) -> list[CancellationReason]:
    rows = await conn.fetch("SELECT id, name, active FROM cancellation_reasons ORDER BY id")
    return [CancellationReason(**row) for row in rows]


async def upsert_company(conn: Connection, company: ShippingCompany) -> None:
    await conn.execute(
        """INSERT INTO shipping_companies (id, name, easy_return, active) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE
               SET name = excluded.name, easy_return = excluded.easy_return, active = excluded.active,
                   updated_at = now()""",
        company.id,
        company.name,
        company.easy_return,
        company.active,
    )


async def list_companies(conn: Connection) -> list[ShippingCompany]:
    rows = await conn.fetch("SELECT id, name, easy_return, active FROM shipping_companies ORDER BY id")
    return [ShippingCompany(**row) for row in rows]
