"""The local PostgreSQL cluster in .local/pg: trust auth on 127.0.0.1 only, superuser `postgres`."""

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any, Final

import asyncpg

from deploy.local.base import (
    LOGS_DIR,
    STATE_DIR,
    StackError,
    check_listen_port,
    is_our_process,
    log_size,
    log_tail,
    port_open,
    read_pid,
    require_tool,
    run_sync,
    say,
)
from shared.services import LOCAL_DATABASE, LOCAL_PG_PORT

DATA_DIR: Final = STATE_DIR / "pg"
LOG_FILE: Final = LOGS_DIR / "postgres.log"
SUPERUSER: Final = "postgres"
# The `postgres` maintenance database, to create ours from.
MAINTENANCE_DSN: Final = f"postgresql://{SUPERUSER}@127.0.0.1:{LOCAL_PG_PORT}/postgres"
INSTALL_HINT: Final = "apt-get install -y postgresql"
# Server settings, given on every start so they follow this file. No Unix socket: nothing to clash
# with a system cluster's /var/run/postgresql. fsync off: a throwaway dev cluster, where speed wins
# (after an OS crash, `down --purge`).
SERVER_OPTIONS: Final = (
    f"-c listen_addresses=127.0.0.1 -c port={LOCAL_PG_PORT} -c unix_socket_directories='' "
    "-c fsync=off -c max_connections=300"
)


def program(name: str) -> str:
    """A PostgreSQL program from PATH, else from Debian's versioned directories (newest first)."""
    found = shutil.which(name)
    if found is None:
        candidates = sorted(
            Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
            key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
            reverse=True,
        )
        found = str(candidates[0]) if candidates else None
    return require_tool(name, INSTALL_HINT, found)


def _as_cluster_owner() -> dict[str, Any]:
    """subprocess arguments that run a PostgreSQL program as a non-root user, which it insists on."""
    if os.geteuid() != 0:
        return {}
    try:
        owner = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise StackError(
            "PostgreSQL refuses to run as root and there is no `postgres` OS user; "
            "create one with: useradd --system --no-create-home postgres"
        ) from None
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "cwd": "/"}


def _run(argv: list[str], what: str, **kwargs: Any) -> None:
    result = subprocess.run(argv, check=False, **_as_cluster_owner(), **kwargs)
    if result.returncode != 0:
        output = (result.stdout or b"").decode(errors="replace").strip()
        raise StackError(f"{what} failed (exit {result.returncode}):\n{output}\n{log_tail(LOG_FILE)}")


def running_pid() -> int | None:
    """The postmaster's pid if our cluster runs."""
    pid = read_pid(DATA_DIR / "postmaster.pid")  # may be stale after a crash, its pid reused
    return pid if pid is not None and is_our_process(pid, str(DATA_DIR)) else None


def let_owner_reach(path: Path, uid: int) -> None:
    """Give the cluster's owner search permission (o+x: pass through, not list) on each directory above
    `path` it could not pass: a clone inside a private directory (`mktemp -d` makes 0700 ones) is
    otherwise out of reach of the user PostgreSQL runs as."""
    for parent in path.parents:
        mode = parent.stat()
        if mode.st_uid != uid and not mode.st_mode & stat.S_IXOTH:
            os.chmod(parent, stat.S_IMODE(mode.st_mode) | stat.S_IXOTH)
            say(f"postgres: let its user pass through {parent} (o+x)")


def init() -> None:
    """Create the cluster unless it exists."""
    if (DATA_DIR / "PG_VERSION").exists():
        return
    initdb = program("initdb")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    owner = _as_cluster_owner()
    if owner:
        let_owner_reach(DATA_DIR, owner["user"])
        os.chown(DATA_DIR, owner["user"], owner["group"])
    _run(
        [initdb, "-D", str(DATA_DIR), "-U", SUPERUSER, "-E", "UTF8", "--no-locale", "--auth=trust"],
        "initdb",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # initdb also trusts the Unix socket and ::1; only 127.0.0.1 is wanted.
    (DATA_DIR / "pg_hba.conf").write_text("# TYPE DATABASE USER ADDRESS METHOD\nhost all all 127.0.0.1/32 trust\n")
    say(f"postgres: initialised a cluster in {DATA_DIR.relative_to(STATE_DIR.parent)}")


def start() -> None:
    """Start the cluster in its own session (it outlives the launcher) and wait until it accepts."""
    check_listen_port(LOCAL_PG_PORT, "LOCAL_PG_PORT")
    if port_open(LOCAL_PG_PORT):
        raise StackError(
            f"127.0.0.1:{LOCAL_PG_PORT} is taken by a process this launcher did not start; "
            "stop it, or set DATABASE_URL to use that server"
        )
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    since = log_size(LOG_FILE)
    # The log is opened here, so the server (another user when we are root) can write it regardless
    # of the directory's permissions; pg_ctl -w waits for readiness, then exits.
    with LOG_FILE.open("ab") as log:
        result = subprocess.run(
            [program("pg_ctl"), "start", "-w", "-t", "60", "-D", str(DATA_DIR), "-o", SERVER_OPTIONS],
            check=False,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_as_cluster_owner(),
        )
    if result.returncode != 0:
        raise StackError(f"postgres did not start; {LOG_FILE}:\n{log_tail(LOG_FILE, since)}")


def stop(mode: str = "fast") -> bool:
    """Stop the cluster; whether it was running. `fast` rolls back open transactions and closes every
    connection; `immediate` is a crash (connections cut, recovery at the next start)."""
    if running_pid() is None:
        return False
    _run(
        [program("pg_ctl"), "stop", "-m", mode, "-w", "-t", "60", "-D", str(DATA_DIR)],
        "pg_ctl stop",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return True


async def _create_database() -> bool:
    conn = await asyncpg.connect(MAINTENANCE_DSN)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", LOCAL_DATABASE):
            return False
        await conn.execute(f'CREATE DATABASE "{LOCAL_DATABASE}"')
        return True
    finally:
        await conn.close()


def ensure_running() -> None:
    """Initialise if needed, start unless running, and make sure the database exists."""
    pid = running_pid()
    if pid is None:
        init()
        start()
        say(f"postgres: started (pid {running_pid()}) on 127.0.0.1:{LOCAL_PG_PORT}")
    else:
        say(f"postgres: already running (pid {pid}) on 127.0.0.1:{LOCAL_PG_PORT}")
    if run_sync(_create_database()):
        say(f"postgres: created database {LOCAL_DATABASE}")


async def reachable(dsn: str = MAINTENANCE_DSN) -> bool:
    """Whether the server at `dsn` (the local one by default) answers a query as the superuser."""
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        return bool(await conn.fetchval("SELECT true"))
    finally:
        await conn.close()
