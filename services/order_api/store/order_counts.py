"""The orders counted by bucket (status, financial status, fulfillment status; migration 0014): Postgres
records each change of an order's bucket as a +1 / -1 row in `order_count_changes`, in the change's own
transaction; `fold` moves those rows into `order_counts`, one row per bucket. A count sums both tables
in one snapshot, so it is exact whether or not the changes were folded yet; folding keeps it fast."""

from dataclasses import replace
from typing import Final

from services.order_api.domain.queries import OrderQuery
from services.order_api.store.order_filters import where
from shared.db import Statements

_SUM: Final = """
SELECT coalesce(sum(orders), 0)::bigint FROM (
    SELECT status, financial_status, fulfillment_status, orders FROM order_counts
    UNION ALL
    SELECT status, financial_status, fulfillment_status, orders FROM order_count_changes
) AS buckets WHERE {clauses}"""

# One statement: the changes deleted are exactly the ones added to the buckets. Zero totals stay (a
# bucket's row is kept for its next order).
_FOLD: Final = """
WITH moved AS (
    DELETE FROM order_count_changes RETURNING status, financial_status, fulfillment_status, orders
), added AS (
    INSERT INTO order_counts AS counted (status, financial_status, fulfillment_status, orders)
    SELECT status, financial_status, fulfillment_status, sum(orders) FROM moved GROUP BY 1, 2, 3
    ON CONFLICT (status, financial_status, fulfillment_status)
    DO UPDATE SET orders = counted.orders + EXCLUDED.orders
)
SELECT count(*) FROM moved"""


def counted(query: OrderQuery) -> bool:
    """Whether the counters answer `query`: it filters on the buckets' statuses alone, if at all."""
    return replace(query, statuses=None, financial_statuses=None, fulfillment_statuses=None) == OrderQuery()


class OrderCountRows:
    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def count(self, query: OrderQuery) -> int:
        """How many orders match `query`, which must be `counted`: the sum of its buckets."""
        clauses, args = where(query)
        total: int = await self.conn.fetchval(_SUM.format(clauses=clauses), *args)
        return total

    async def fold(self) -> int:
        """Fold the recorded changes into the buckets' counts; how many there were. Inside a transaction:
        one fold at a time (a second waits for the first), while counts and changes go on."""
        await self.conn.execute("LOCK TABLE order_counts IN EXCLUSIVE MODE")
        folded: int = await self.conn.fetchval(_FOLD)
        return folded
