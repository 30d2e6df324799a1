"""Per-service connection strings derived from one administrative DSN.

One `DATABASE_URL` (a role that may create roles and schemas) is enough to run everything: each
service logs in as its own role, on the same host and database, so Postgres enforces who owns what.
"""

import os
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from shared.services import LOCAL_ADMIN_DSN, ServiceSpec

ADMIN_DSN_VARIABLE: Final = "DATABASE_URL"


def admin_dsn() -> str:
    """The administrative DSN: `DATABASE_URL`, else the local stack's superuser."""
    return os.environ.get(ADMIN_DSN_VARIABLE) or LOCAL_ADMIN_DSN


def password_variable(spec: ServiceSpec) -> str:
    """The variable holding the password of a service's role: `<PREFIX>DATABASE_PASSWORD`."""
    return f"{spec.env_prefix}DATABASE_PASSWORD"


def service_password(spec: ServiceSpec) -> str:
    """The password of a service's role: `<PREFIX>DATABASE_PASSWORD`, else the role name (local only)."""
    return os.environ.get(password_variable(spec)) or spec.role


def with_credentials(dsn: str, user: str, password: str) -> str:
    """`dsn` with its user and password replaced, host, port, database and query kept."""
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def service_dsn(spec: ServiceSpec, base: str | None = None) -> str:
    """The DSN a service logs in with: its own role on the administrative DSN's database."""
    return with_credentials(base or admin_dsn(), spec.role, service_password(spec))
