"""`python -m deploy.local.smtp_sink`: the local stack's SMTP server (aiosmtpd). Every message it
receives is kept as it arrived, one `.eml` file each, in `.local/mail/` (`SMTP_SINK_DIR`); nothing is
delivered anywhere. Listens on `SMTP_SINK_HOST`:`SMTP_SINK_PORT` (127.0.0.1:8025), where the
cancellation worker sends by default. The tests run the same handler in a server of their own."""

import asyncio
import contextlib
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

from aiosmtpd.smtp import SMTP

from deploy.local.base import STATE_DIR, say

DEFAULT_PORT: Final = 8025
MAIL_DIR: Final = STATE_DIR / "mail"


@dataclass(frozen=True, slots=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


class Sink:
    """An aiosmtpd handler that keeps every message: in memory (for a test to read) and, given a
    directory, as a file there."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.messages: list[Received] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
            (self.directory / name).write_bytes(content)
        return "250 Message accepted for delivery"

    def with_message_id(self, message_id: str) -> list[Received]:
        with self._lock:
            return [received for received in self.messages if received.message["Message-ID"] == message_id]

    def to(self, recipient: str) -> list[Received]:
        with self._lock:
            return [received for received in self.messages if recipient in received.recipients]


async def serve(sink: Sink, host: str, port: int, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="smtp-sink"), host, port)
    say(f"smtp sink: listening on {host}:{port}, writing to {sink.directory}")
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()


def main() -> None:
    directory = Path(os.environ.get("SMTP_SINK_DIR") or MAIL_DIR)
    host = os.environ.get("SMTP_SINK_HOST") or "127.0.0.1"
    port = int(os.environ.get("SMTP_SINK_PORT") or DEFAULT_PORT)

    async def run() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await serve(Sink(directory), host, port, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
