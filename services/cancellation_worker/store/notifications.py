"""Customers' emails: one row per Message-ID, sent by the mail sender on the shared work queue."""

from typing import Final

from services.cancellation_worker.domain.notices import Notice
from shared.db import Connection
from shared.work_queue import QueueTable

# The sender LISTENs here; a new notification NOTIFYs on commit.
NOTIFICATIONS: Final = QueueTable("notifications", "cancellation.notifications")


async def insert_notification(conn: Connection, notice: Notice) -> bool:
    """Queue the email unless one with its Message-ID exists; whether it was queued now."""
    queued = await conn.fetchval(
        """INSERT INTO notifications (message_id, kind, order_id, recipient, subject, body)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING RETURNING true""",
        notice.message_id,
        notice.kind,
        notice.order_id,
        notice.recipient,
        notice.subject,
        notice.body,
    )
    if queued:
        await NOTIFICATIONS.notify(conn)
    return bool(queued)


async def mark_sending(conn: Connection, notification_id: int) -> None:
    """Record that a send starts now: until its outcome is recorded, no claim sends it again."""
    await conn.execute(
        "UPDATE notifications SET sending_since = now(), last_error = NULL WHERE id = $1", notification_id
    )


async def record_failure(conn: Connection, notification_id: int, error: str) -> None:
    """The server refused the email (so it was not delivered): it may be sent again."""
    await conn.execute(
        "UPDATE notifications SET sending_since = NULL, last_error = $2 WHERE id = $1", notification_id, error
    )


async def mark_sent(conn: Connection, notification_id: int) -> None:
    await conn.execute("UPDATE notifications SET sent_at = now() WHERE id = $1", notification_id)
