"""The worker's background loop: the mail sender, on the shared work queue over the notifications
table. Any number of instances share it (SKIP LOCKED claims under a lease)."""

from datetime import timedelta

from services.cancellation_worker.mail import SmtpMailer
from services.cancellation_worker.service import postgres_ports
from services.cancellation_worker.service.mail import MailService
from services.cancellation_worker.settings import CancellationSettings
from services.cancellation_worker.store import NOTIFICATIONS
from shared.runtime import Runtime
from shared.work_queue import table_queue


async def send_emails(runtime: Runtime[CancellationSettings]) -> None:
    settings = runtime.settings
    mail = MailService(postgres_ports(runtime.pool, settings), SmtpMailer(settings))
    queue = table_queue(
        runtime.pool,
        NOTIFICATIONS,
        mail.send,
        lease=timedelta(seconds=settings.mail_lease_seconds),
        concurrency=settings.mail_concurrency,
        poll_interval=settings.mail_poll_interval_seconds,
        follow_up=mail.settled,
    )
    await queue.run()
