"""Customers' emails over SMTP (aiosmtplib). Whatever happens before the message is handed over
(connecting, greeting, TLS, login) or that the server answers with a refusal means the email was not
delivered: `MailRefused`, to be tried again. A connection lost while handing it over leaves the
outcome unknown: the error goes up as it is, and the email is not sent again."""

import contextlib
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.cancellation_worker.domain.notices import Notice
from services.cancellation_worker.service.mail import MailRefused
from services.cancellation_worker.settings import CancellationSettings

_NOT_CONNECTED = (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPResponseException, aiosmtplib.SMTPNotSupported, OSError)
_REFUSED = (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)


def message_of(notice: Notice, sender: str) -> EmailMessage:
    """The email, carrying the notification's own Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notice.recipient
    message["Subject"] = notice.subject
    message["Message-ID"] = notice.message_id
    message["Date"] = formatdate(usegmt=True)
    message.set_content(notice.body)
    return message


class SmtpMailer:
    def __init__(self, settings: CancellationSettings) -> None:
        self._settings = settings

    async def send(self, notice: Notice) -> None:
        settings = self._settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        try:
            await client.connect()
        except _NOT_CONNECTED as error:
            raise MailRefused(f"cannot reach {settings.smtp_host}:{settings.smtp_port}: {error}") from error
        try:
            await client.send_message(message_of(notice, settings.smtp_sender))
        except _REFUSED as error:
            raise MailRefused(f"the SMTP server refused the email: {error}") from error
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
