"""structlog JSON logging: one line per event, with the service, the event and order ids, and the
correlation id that travels through HTTP, Kafka and webhook headers; personal data is masked at info
level and above (shared/log_privacy.py)."""

import logging
import re
import sys
import uuid
from typing import Any

import structlog

from shared.log_privacy import mask_personal_data

CORRELATION_HEADER = "x-correlation-id"
# A correlation id travels in HTTP, Kafka and webhook headers: printable ASCII without spaces, bounded,
# so every client and every subscriber's server takes it.
_USABLE_CORRELATION_ID = re.compile(r"[!-~]{1,128}")


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route structlog and the standard library (uvicorn, aiokafka, FastStream) to JSON on stdout."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    rendering: list[structlog.typing.Processor] = [
        structlog.processors.format_exc_info,
        # Last before rendering, so it sees every line's whole text, the exception's included.
        mask_personal_data,
        # In an event platform "event" means a domain event: the log line's text is "message".
        structlog.processors.EventRenamer("message"),
        structlog.processors.JSONRenderer(),
    ]
    # Our own lines are rendered and written by structlog itself, not handed to the standard library as
    # records and rendered there: a consumer writes one per event, and the hand-over (two LogRecords, a
    # formatter, a handler) cost as much as the rendering (bench/README.md, "The whole pipeline").
    structlog.configure(
        processors=[*shared_processors, *rendering],
        logger_factory=_StdoutLines,
        wrapper_class=structlog.make_filtering_bound_logger(root.getEffectiveLevel()),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root.handlers[:] = [handler]
    # Python warnings (pydantic's serializer warnings quote the value) become log lines, masked too.
    logging.captureWarnings(True)
    # Libraries' per-message chatter would double every event line; keep their warnings. uvicorn's
    # access log stays off (shared/runtime.py passes access_log=False too): each of its lines names the
    # client's address, a browser's IP for the Akinon guest lookups, which is personal data.
    for noisy in ("aiokafka", "faststream", "uvicorn.access", "kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # FastStream gives its logger a coloured plain-text handler of its own; send it through ours.
    faststream_logger = logging.getLogger("faststream")
    faststream_logger.handlers.clear()
    faststream_logger.propagate = True
    faststream_logger.addFilter(_drop_topic_creation_notice)


def _drop_topic_creation_notice(record: logging.LogRecord) -> bool:
    # Topics are created by provisioning, never by services; FastStream says so at every start.
    return "Make sure the topics exist" not in record.getMessage()


class _StdoutLines:
    """Where structlog writes a rendered line: the standard output of the moment (the one the standard
    library's handler writes to as well, so the two kinds of line stay in order)."""

    __slots__ = ()

    def __init__(self, *_: Any) -> None:
        pass

    def msg(self, message: str) -> None:
        stream = sys.stdout
        stream.write(message + "\n")
        stream.flush()

    debug = info = warning = error = critical = exception = msg


def _add_service(service: str) -> structlog.typing.Processor:
    def add(_: Any, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


def usable_correlation_id(value: str | None) -> str | None:
    """`value` if it can travel as a correlation id, else None (the caller makes a new one or goes
    without): one taken from a request or an event never breaks the headers it is copied into."""
    return value if value is not None and _USABLE_CORRELATION_ID.fullmatch(value) else None


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value is not None else None
