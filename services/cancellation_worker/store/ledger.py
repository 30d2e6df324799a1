"""The refund ledger (append-only: the table refuses updates and deletes) and the loyalty-money
ledger per customer."""

from collections.abc import Sequence
from decimal import Decimal

from services.cancellation_worker.domain.ledger import LedgerEntry, LoyaltyCredit
from shared.db import Connection
from shared.money import from_minor, to_minor

_COLUMNS = (
    "entry_id, idempotency_key, entry_type, order_id, refund_id, kind, method, amount, currency, error, created_at"
)


async def ledger_of(conn: Connection, order_id: int) -> list[LedgerEntry]:
    """The order's entries in the order they were appended."""
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM ledger_entries WHERE order_id = $1 ORDER BY position", order_id)
    # The columns are named as its fields; amounts at the currency's precision (the column keeps 4).
    return [LedgerEntry(**{**row, "amount": _money(row["amount"], row["currency"])}) for row in rows]


async def orders_with_entries(conn: Connection, order_ids: Sequence[int]) -> set[int]:
    """Those of the orders whose ledger holds an entry."""
    rows = await conn.fetch(
        "SELECT DISTINCT order_id FROM ledger_entries WHERE order_id = ANY($1::bigint[])", order_ids
    )
    return {row["order_id"] for row in rows}


def _money(amount: Decimal, currency: str) -> Decimal:
    return from_minor(to_minor(amount, currency), currency)


async def append_entry(conn: Connection, entry: LedgerEntry) -> None:
    await conn.execute(
        f"INSERT INTO ledger_entries ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        *(getattr(entry, name) for name in _COLUMNS.split(", ")),
    )


async def credit_loyalty(conn: Connection, entry: LedgerEntry, customer_id: int) -> Decimal:
    """Credit the customer's loyalty balance with the attempt's amount; the balance after it."""
    balance: Decimal = await conn.fetchval(
        """INSERT INTO loyalty_balances (customer_id, currency, balance) VALUES ($1, $2, $3)
           ON CONFLICT (customer_id, currency)
               DO UPDATE SET balance = loyalty_balances.balance + excluded.balance, updated_at = now()
           RETURNING balance""",
        customer_id,
        entry.currency,
        entry.amount,
    )
    await conn.execute(
        """INSERT INTO loyalty_entries (customer_id, order_id, ledger_entry_id, amount, currency, balance)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        customer_id,
        entry.order_id,
        entry.idempotency_key,
        entry.amount,
        entry.currency,
        balance,
    )
    return _money(balance, entry.currency)


async def loyalty_credits(conn: Connection, customer_id: int) -> list[LoyaltyCredit]:
    """The customer's credits, oldest first, each with the balance after it."""
    rows = await conn.fetch(
        """SELECT order_id, ledger_entry_id, amount, currency, balance, created_at FROM loyalty_entries
           WHERE customer_id = $1 ORDER BY position""",
        customer_id,
    )
    return [
        LoyaltyCredit(
            **{
                **row,
                "amount": _money(row["amount"], row["currency"]),
                "balance": _money(row["balance"], row["currency"]),
            }
        )
        for row in rows
    ]
