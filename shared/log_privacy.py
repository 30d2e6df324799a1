"""Personal data kept out of log lines at info level and above (issue 10): a structlog processor.

Call sites log ids, counts and states, never a customer's email, name, phone, address, IBAN, account
holder or browser IP. This processor is the safety net behind them, for every line that reaches the
output, structlog's and the standard library's (uvicorn, aiokafka, FastStream) alike, exception text
included: at info and above it masks

- the value of any field whose name has a personal word as one of its `_`-separated parts (`email`,
  `customer_email`, `first_name`, `holder_name`, `browser_ip`, `client_addr`, `recipient`, ...), at any
  depth of a nested dict or list;
- email addresses and IBANs anywhere in the text of the line (the message, an error's text, a
  traceback), the two kinds of personal data a pattern recognises reliably.

Debug lines are left whole: debug is for a developer's own machine, never on in production.
Names, phones and addresses in free text have no reliable pattern: they are kept out at the call
site, and validation errors never quote their input (`shared.orders.Snapshot`).
"""

import functools
import re
from collections.abc import Mapping
from typing import Any, Final

from structlog.typing import EventDict

MASK: Final = "***"

# A field whose name has one of these as a part (`customer_email` -> customer, email) holds personal
# data. `name` marks a person's or a company's name in this platform's models (first_name, holder_name);
# no log field of ours names another thing `*_name`.
PERSONAL_WORDS: Final = frozenset(
    {
        "email",
        "phone",
        "name",
        "company",
        "address",
        "address1",
        "address2",
        "street",
        "city",
        "zip",
        "postcode",
        "iban",
        "holder",
        "ip",
        "addr",
        "recipient",
        "note",
        "subject",
        "body",
        "description",
        "password",
    }
)

# Levels whose lines are kept whole.
_UNMASKED_LEVELS: Final = frozenset({"debug", "notset"})

_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# ISO 13616: country code, two check digits, 11 to 30 letters or digits, optionally in groups of four.
_IBAN: Final = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")


@functools.lru_cache(maxsize=4096)
def is_personal_field(name: str) -> bool:
    """Whether a log field of this name holds personal data (remembered per name: a consumer logs a
    line per event, and the same few field names each time)."""
    return any(part in PERSONAL_WORDS for part in name.lower().split("_"))


def scrub_text(text: str) -> str:
    """`text` with every email address and IBAN in it masked."""
    if "@" in text:  # no email address without one; the check costs a fraction of the pattern's
        text = _EMAIL.sub(MASK, text)
    return _IBAN.sub(MASK, text)


def mask_personal_data(_: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """The structlog processor: at info and above, personal fields and patterns masked (see above)."""
    level = str(event_dict.get("level", method_name)).lower()
    if level in _UNMASKED_LEVELS:
        return event_dict
    return {key: _masked(key, value) for key, value in event_dict.items()}


def _masked(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if is_personal_field(key):
        return MASK
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {name: _masked(str(name), item) for name, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(key, item) for item in value]
    # Anything else is rendered as its repr (as the JSON renderer would), scrubbed.
    return scrub_text(repr(value))
