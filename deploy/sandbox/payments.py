"""`python -m deploy.sandbox.payments`: a payment service on the real broker, like Shopify's Bogus
Gateway, for the local stack and the tests.

It consumes `payments.commands` and answers each command once per idempotency key (the ledger entry
id), after `PAYMENTS_SANDBOX_DELAY_SECONDS`, with a fact on `orders.ingest` naming the refund and the
ledger entry: `payment.voided` for a void, `payment.refund_failed` for a refund whose amount in minor
units ends in 13 (so failures can be exercised), `payment.refunded` otherwise. A decline is passing,
as a real one often is: a retry (the same refund under a new key) goes through. A command seen again
(same key) is counted and not answered again. The counts are served over HTTP for tests:

    GET /commands/{idempotency_key}   {"idempotency_key", "order_id", "count", "answered", "answer"}
    GET /commands?order_id=N          every key seen for the order
    GET /health/live, /health/ready

What it saw lives as long as the process; it commits a batch's offsets once the batch is answered, so
a restart resumes after the commands it answered.
"""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.cancellations import RefundData, payment_answer
from shared.events import Event, InvalidEvent, decode_event
from shared.kafka import EventProducer, OutgoingRecord
from shared.logging import configure_logging, get_logger
from shared.money import to_minor
from shared.services import LOCAL_KAFKA_BOOTSTRAP, ServiceSpec
from shared.topics import ORDERS_INGEST, PAYMENTS_COMMANDS

NAME: Final = "payments_sandbox"
DEFAULT_PORT: Final = 8004
DECLINED_ENDING: Final = 13  # minor units ending in these two digits are declined
# To run it as the services are run (tests, benchmarks): its name, env prefix and port; no schema.
SPEC: Final = ServiceSpec(NAME, "", "PAYMENTS_SANDBOX_", DEFAULT_PORT)
log = get_logger(__name__)


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_SANDBOX_", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    delay_seconds: float = Field(default=0.2, ge=0)
    consumer_group: str = "payments-sandbox"
    gateway: str = "bogus"
    batch_records: int = Field(default=500, ge=1)
    log_level: str = "INFO"

    def bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or LOCAL_KAFKA_BOOTSTRAP


def answer(command: Event, gateway: str, *, retry: bool = False) -> Event:
    """The payment service's answer to a refund or void command (`retry`: the refund was asked for
    before, under another key)."""
    data = command.data
    assert isinstance(data, RefundData)
    if data.kind == "void":
        fact_type, error = "payment.voided", None
    elif not retry and to_minor(data.amount, data.currency) % 100 == DECLINED_ENDING:
        fact_type, error = "payment.refund_failed", "declined: the sandbox declines amounts ending in 13"
    else:
        fact_type, error = "payment.refunded", None
    fact = payment_answer(data, gateway, error)
    return Event.new(fact_type, NAME, str(data.order_id), fact, correlation_id=command.correlation_id)


@dataclass
class Seen:
    order_id: int
    retry: bool  # another key asked for the same refund first
    count: int = 0
    answer: str | None = None  # the fact's type, once it was published


class CommandOut(BaseModel):
    idempotency_key: uuid.UUID
    order_id: int | None
    count: int = Field(description="how many commands with this key arrived")
    answered: bool
    answer: str | None


class RecordSender(Protocol):
    async def send_all(self, records: Sequence[OutgoingRecord]) -> None: ...


class Sandbox:
    """Counts commands per idempotency key and answers each key once."""

    def __init__(self, settings: SandboxSettings, producer: RecordSender) -> None:
        self.settings = settings
        self.producer = producer
        self.seen: dict[uuid.UUID, Seen] = {}
        self.refunds: set[tuple[int, int]] = set()  # (order id, refund id) asked for under some key

    def take(self, command: Event) -> bool:
        """Count the command; whether its key is new (and so to be answered)."""
        data = command.data
        assert isinstance(data, RefundData)
        seen = self.seen.get(data.ledger_entry_id)
        if seen is None:
            refund = (data.order_id, data.refund_id or 0)
            seen = self.seen[data.ledger_entry_id] = Seen(data.order_id, retry=refund in self.refunds)
            self.refunds.add(refund)
        seen.count += 1
        return seen.count == 1

    async def handle(self, records: Sequence[Any]) -> None:
        """Count a batch's commands and answer the new ones, each after the delay (all at once)."""
        first_seen: list[Event] = []
        for record in records:
            try:
                command = decode_event(list(record.headers or ()), record.value)
            except InvalidEvent as error:
                log.error("not a command; skipped", error=str(error), offset=record.offset)
                continue
            if not isinstance(command.data, RefundData):
                log.error("not a payment command; skipped", event_type=command.type)
            elif self.take(command):
                first_seen.append(command)
            else:
                log.info("duplicate command counted, not answered", key=str(command.data.ledger_entry_id))
        await asyncio.gather(*(self._answer(command) for command in first_seen))

    async def _answer(self, command: Event) -> None:
        await asyncio.sleep(self.settings.delay_seconds)
        assert isinstance(command.data, RefundData)
        seen = self.seen[command.data.ledger_entry_id]
        fact = answer(command, self.settings.gateway, retry=seen.retry)
        await self.producer.send_all([OutgoingRecord(ORDERS_INGEST, fact.key, fact.body(), fact.headers())])
        seen.answer = fact.type
        log.info("command answered", answer=fact.type, key=str(command.data.ledger_entry_id))

    async def consume(self) -> None:
        consumer = AIOKafkaConsumer(
            PAYMENTS_COMMANDS,
            bootstrap_servers=self.settings.bootstrap(),
            group_id=self.settings.consumer_group,
            client_id=NAME,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        while True:
            try:
                await consumer.start()
                break
            except (KafkaError, OSError) as error:
                log.warning("kafka not reachable yet, retrying", error=str(error))
                await asyncio.sleep(1.0)
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=self.settings.batch_records)
                records = [record for part in batches.values() for record in part]
                if records:
                    await self.handle(records)
                    await consumer.commit()
        finally:
            await consumer.stop()

    def report(self, key: uuid.UUID) -> CommandOut:
        seen = self.seen.get(key)
        if seen is None:
            return CommandOut(idempotency_key=key, order_id=None, count=0, answered=False, answer=None)
        return CommandOut(
            idempotency_key=key, order_id=seen.order_id, count=seen.count, answered=seen.answer is not None,
            answer=seen.answer,
        )  # fmt: skip


def build(settings: SandboxSettings) -> FastAPI:
    producer = EventProducer(settings.bootstrap(), NAME)
    sandbox = Sandbox(settings, producer)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        configure_logging(NAME, settings.log_level)
        await producer.connect()
        consuming = asyncio.create_task(sandbox.consume(), name="payments-commands")
        log.info("payments sandbox started", port=settings.http_port, delay_seconds=settings.delay_seconds)
        try:
            yield
        finally:
            consuming.cancel()
            await asyncio.gather(consuming, return_exceptions=True)
            await producer.close()

    app = FastAPI(title="Payments sandbox", lifespan=lifespan)

    @app.get("/commands/{idempotency_key}", response_model=CommandOut)
    async def command(idempotency_key: uuid.UUID) -> CommandOut:
        """How many commands with this idempotency key arrived, and whether (and how) it was answered."""
        return sandbox.report(idempotency_key)

    @app.get("/commands", response_model=list[CommandOut])
    async def commands(order_id: int = Query(ge=1)) -> list[CommandOut]:
        """Every idempotency key seen for the order."""
        return [sandbox.report(key) for key, seen in sandbox.seen.items() if seen.order_id == order_id]

    @app.get("/health/live")
    @app.get("/health/ready")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    settings = SandboxSettings()
    uvicorn.run(build(settings), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
