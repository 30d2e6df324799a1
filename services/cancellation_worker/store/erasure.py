"""An anonymized order's personal data in the worker's tables (design section 5): its submissions' bank
accounts, what guests wrote in its requests, its emails, and its published or parked outbox rows (the
refund commands among them carried the IBAN). The order copy itself is masked by `order.anonymized`."""

from shared.db import Connection, rows_affected
from shared.erasure import MASK
from shared.outbox import erase_sent_events


async def erase_order(conn: Connection, order_id: int) -> dict[str, int]:
    """Delete or mask the order's personal data; rows touched per table (0 for what was erased before).
    A pending email is failed with `erased`, never sent; one being sent as this runs is left to finish
    (its row is masked all the same). UnsentEvents while an older event of the order is unpublished."""
    outbox = await erase_sent_events(conn, str(order_id))
    accounts = await conn.execute("DELETE FROM bank_accounts WHERE order_id = $1", order_id)
    requests = await conn.execute(
        """UPDATE cancellation_requests
              SET description = CASE WHEN description IS NULL THEN NULL ELSE $2 END, iban_last4 = NULL
            WHERE order_id = $1 AND (description IS DISTINCT FROM $2 AND description IS NOT NULL
                                     OR iban_last4 IS NOT NULL)""",
        order_id,
        MASK,
    )
    notifications = await conn.execute(
        """UPDATE notifications
              SET recipient = $2, subject = $2, body = $2, last_error = 'erased',
                  status = CASE status WHEN 'pending' THEN 'failed' ELSE status END
            WHERE order_id = $1 AND (recipient <> $2 OR subject <> $2 OR body <> $2)""",
        order_id,
        MASK,
    )
    return {
        "bank_accounts": rows_affected(accounts),
        "cancellation_requests": rows_affected(requests),
        "notifications": rows_affected(notifications),
        **outbox,
    }
