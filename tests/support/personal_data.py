"""A customer's personal strings, unique to one test run, and where a test looks for them afterwards:
the whole database as `pg_dump` writes it, and the lines the services logged at info level or above."""

import ipaddress
import json
import random
import re
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from deploy.local.postgres import program

# What pg_dump writes of a bytea value in a COPY line: `\\x` and its hex digits.
_BYTEA: Final = re.compile(r"\\\\x((?:[0-9a-f]{2})+)")
# The log levels below which personal data may appear (design section 6: debug only).
_QUIET_LEVELS: Final = {"debug", "notset"}


def _valid_iban(account: str) -> str:
    """A Turkish IBAN (26 characters, mod-97 valid) for a 16-digit account number."""
    bban = f"000610{account}"  # bank 00061, a reserved 0, the account
    check = 98 - int(bban + "292700") % 97  # T = 29, R = 27, then "00" for the check digits
    return f"TR{check:02d}{bban}"


@dataclass(frozen=True)
class Person:
    """A guest's personal data, every value recognisable and unique to this run (`tag`)."""

    tag: str
    email: str
    first_name: str
    last_name: str
    phone: str
    billing_first_name: str
    billing_last_name: str
    billing_line_1: str
    billing_line_2: str
    billing_city: str
    shipping_first_name: str
    shipping_last_name: str
    shipping_line_1: str
    shipping_line_2: str
    shipping_city: str
    company: str
    note: str
    user_agent: str
    browser_ip: str
    iban: str
    holder_name: str
    description: str

    @classmethod
    def new(cls, label: str) -> "Person":
        tag = uuid.uuid4().hex[:10]
        ip = ipaddress.IPv6Address(f"2001:db8:{tag[:4]}:{tag[4:8]}::{random.randrange(1, 0xFFFF):x}")
        return cls(
            tag=tag,
            email=f"{label}-{tag}@example.com",
            first_name=f"Cora{tag}",
            last_name=f"Custer{tag}",
            phone=f"+1555{random.randrange(10**7):07d}",
            billing_first_name=f"Billie{tag}",
            billing_last_name=f"Öztürk{tag}",  # not ASCII: JSON may escape it
            billing_line_1=f"12 Billing Street {tag}",
            billing_line_2=f"Flat B-{tag}",
            billing_city=f"Billtown{tag}",
            shipping_first_name=f"Shay{tag}",
            shipping_last_name=f"Shipman{tag}",
            shipping_line_1=f"34 Shipping Road {tag}",
            shipping_line_2=f"Unit S-{tag}",
            shipping_city=f"Shipville{tag}",
            company=f"Proof Company {tag}",
            note=f"Ring twice, {tag}",
            user_agent=f"ProofBrowser/{tag}",
            browser_ip=ip.compressed,
            iban=_valid_iban(f"{random.randrange(10**16):016d}"),
            holder_name=f"Ayşe Holder{tag}",
            description=f"Bought by mistake, {tag}",
        )

    def strings(self) -> dict[str, str]:
        """Every personal string of the person, by what it is."""
        return {name: value for name, value in vars(self).items() if name != "tag"}

    def address(self, kind: str) -> dict[str, Any]:
        return {
            "first_name": getattr(self, f"{kind}_first_name"),
            "last_name": getattr(self, f"{kind}_last_name"),
            "address1": getattr(self, f"{kind}_line_1"),
            "address2": getattr(self, f"{kind}_line_2"),
            "city": getattr(self, f"{kind}_city"),
            "company": self.company,
            "phone": self.phone,
            "zip": "10001",
            "country_code": "US",
        }


def _spellings(value: str) -> set[str]:
    """How a value may be written where it is stored, lower-cased: as is, JSON-escaped, and JSON-escaped
    inside a COPY line (where every backslash is doubled)."""
    escaped = json.dumps(value)[1:-1]
    return {spelling.lower() for spelling in (value, escaped, escaped.replace("\\", "\\\\"))}


class Search:
    """Which of `strings` occur, in any spelling and case-insensitively, in the text read so far."""

    def __init__(self, strings: Mapping[str, str]) -> None:
        self._spellings = {name: (value, _spellings(value)) for name, value in strings.items()}
        self.found: dict[str, str] = {}

    def read(self, text: str) -> None:
        lowered = text.lower()
        for name, (value, spellings) in self._spellings.items():
            if name not in self.found and any(spelling in lowered for spelling in spellings):
                self.found[name] = value


def found_in(text: str, strings: Mapping[str, str]) -> dict[str, str]:
    """The strings that occur in `text` in any spelling, case-insensitively."""
    search = Search(strings)
    search.read(text)
    return search.found


def found_in_database(admin_dsn: str, *strings: Mapping[str, str], timeout: float = 300.0) -> list[dict[str, str]]:
    """For each of `strings`, those found in the data of every schema of the database as `pg_dump` writes
    it, each bytea value's bytes decoded as text too (a stored payload's JSON is otherwise hex). Read a
    line at a time: a long-used local database's dump need not fit in memory."""
    searches = [Search(each) for each in strings]
    deadline = time.monotonic() + timeout
    command = [program("pg_dump"), "--data-only", "--no-owner", f"--dbname={admin_dsn}"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as dump:
        assert dump.stdout is not None
        for line in dump.stdout:
            text = with_bytea_decoded(line)
            for search in searches:
                search.read(text)
            if time.monotonic() > deadline:
                dump.kill()
                raise TimeoutError(f"pg_dump and the search took over {timeout} s")
    if dump.returncode != 0:
        raise subprocess.CalledProcessError(dump.returncode, command)
    return [search.found for search in searches]


def with_bytea_decoded(dumped: str) -> str:
    """A dump's text followed by each of its bytea values' bytes decoded as text."""
    decoded = (bytes.fromhex(found.group(1)).decode(errors="replace") for found in _BYTEA.finditer(dumped))
    return "\n".join([dumped, *decoded])


@dataclass(frozen=True)
class LogMarks:
    """Where each service log ended when a test began: the test reads only what was written since."""

    offsets: dict[Path, int]

    @classmethod
    def at_end_of(cls, logs: Iterable[Path]) -> "LogMarks":
        return cls({log: log.stat().st_size if log.exists() else 0 for log in logs})

    def lines_since(self) -> list[str]:
        lines: list[str] = []
        for log, offset in self.offsets.items():
            with log.open("rb") as file:
                file.seek(offset)
                lines += file.read().decode(errors="replace").splitlines()
        return lines


def loud_lines(lines: Iterable[str]) -> list[str]:
    """The log lines at info level or above: every JSON line whose level is not debug, and every line
    that is not JSON (no level to tell it is quiet)."""
    loud = []
    for line in lines:
        try:
            level = json.loads(line).get("level", "")
        except (ValueError, AttributeError):
            level = ""
        if str(level).lower() not in _QUIET_LEVELS:
            loud.append(line)
    return loud
