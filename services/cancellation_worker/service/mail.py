"""Sending one queued email at most once: the send's start is recorded before the SMTP conversation,
so a send whose outcome nobody recorded (a crash, a lost connection mid-DATA) is never repeated; a
send the server refused (so nothing was delivered) is retried on the schedule."""

from typing import Protocol

from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.service.ports import Ports, Row
from shared.db import Connection
from shared.logging import get_logger
from shared.work_queue import Outcome

log = get_logger(__name__)


class MailRefused(Exception):
    """The server did not take the email: it was not delivered, and may be sent again."""


class Mailer(Protocol):
    async def send(self, notice: Notice) -> None:
        """Send it; MailRefused when surely not delivered, anything else when nobody can tell."""


def notice_of(row: Row) -> Notice:
    return Notice(
        message_id=row["message_id"],
        kind=row["kind"],
        order_id=row["order_id"],
        recipient=row["recipient"],
        subject=row["subject"],
        body=row["body"],
    )


class MailService:
    def __init__(self, ports: Ports, mailer: Mailer) -> None:
        self._ports = ports
        self._mailer = mailer

    async def send(self, row: Row) -> Outcome:
        """Send a claimed notification; how it went, for the work queue to settle."""
        described = {"message_id": row["message_id"], "notification_id": row["id"]}
        if row["sending_since"] is not None:
            log.error("an earlier send of this email has no recorded outcome; not sending it again", **described)
            return Outcome.failed()
        async with self._ports.db.acquire() as conn:
            await self._ports.store.mark_sending(conn, row["id"])
        try:
            await self._mailer.send(notice_of(row))
        except MailRefused as error:
            async with self._ports.db.acquire() as conn:
                await self._ports.store.record_failure(conn, row["id"], str(error)[:2000])
            outcome = Outcome.retry_on_schedule(row["attempts"], self._ports.settings.mail_retry_schedule_seconds)
            log.warning("email refused by the SMTP server", error=str(error), retry=outcome.status, **described)
            return outcome
        except Exception as error:  # the server may have it: at most once means not again
            log.error("email send ended without an answer; not sending it again", error=repr(error), **described)
            return Outcome.failed()
        log.info("email sent", **described)
        return Outcome.done()

    async def settled(self, conn: Connection, row: Row, outcome: Outcome) -> None:
        """In the settlement's transaction: a sent email's time."""
        if outcome.status == "done":
            await self._ports.store.mark_sent(conn, row["id"])
