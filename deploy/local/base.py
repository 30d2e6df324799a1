"""What the local stack's parts share: where state lives, errors, and detached-process helpers."""

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Final, TypeVar

from shared.services import REPO_ROOT

# Git-ignored: cluster data, broker log dir, logs and pid files; `down --purge` removes the data.
STATE_DIR: Final = REPO_ROOT / ".local"
LOGS_DIR: Final = STATE_DIR / "logs"

T = TypeVar("T")


class StackError(RuntimeError):
    """The stack cannot be brought to the state asked for; the message says why."""

    exit_code = 1


class MissingTool(StackError):
    """A program the stack needs is not installed."""

    exit_code = 2


def cache_root() -> Path:
    """Where downloads the project can fetch again are kept, outside the tree (~/.cache/order-events)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "order-events"


def say(message: str) -> None:
    print(message, flush=True)


def require_tool(name: str, install: str, found: str | None = None) -> str:
    """The path of `name` (or `found` if given), else a one-line error saying how to install it."""
    path = found or shutil.which(name)
    if path is None:
        raise MissingTool(f"{name} not found; install it with: {install}")
    return path


EPHEMERAL_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_ports(path: Path = EPHEMERAL_RANGE_FILE) -> range | None:
    """The ports the kernel hands out as clients' source ports, if it says (Linux)."""
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return None
    return range(low, high + 1)


def check_listen_port(port: int, variable: str, ephemeral: range | None = None) -> None:
    """Refuse to listen on a port inside the ephemeral range: a client retrying to connect while the
    server is down can be given that very port as its source and connect to itself, and the server
    then cannot bind its port again until that client gives up."""
    ephemeral = ephemeral if ephemeral is not None else ephemeral_ports()
    if ephemeral is not None and port in ephemeral:
        raise StackError(
            f"port {port} lies in this machine's ephemeral port range ({ephemeral.start}-{ephemeral.stop - 1}, "
            f"{EPHEMERAL_RANGE_FILE}), where a client retrying to connect can take it; set {variable} "
            f"to a port below {ephemeral.start}"
        )


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs. An exited process waiting to be reaped (a zombie) does not count."""
    with contextlib.suppress(ChildProcessError):  # reap it if it is our child; else init does
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user (postgres started by root runs as `postgres`)
    if not Path("/proc/self").exists():
        return True  # no procfs (macOS): the signal check has to do
    try:
        # "pid (comm) S ...": the state follows the last ')'.
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False  # exited in the meantime


def is_our_process(pid: int, marker: str) -> bool:
    """Whether `pid` runs and its command line mentions `marker` (guards against reused pids)."""
    if not pid_alive(pid):
        return False
    if not Path("/proc/self").exists():
        return True  # no procfs (macOS): trust the pid file
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return marker in cmdline.read_bytes().decode(errors="replace")
    except OSError:
        return False


def read_pid(path: Path) -> int | None:
    """The pid on the first line of `path`, if the file exists and holds one."""
    try:
        first = path.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.strip().isdigit() else None


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit; whether it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def spawn_detached(argv: list[str], log: Path) -> int:
    """Start `argv` in its own session with output appended to `log`; its pid.

    posix_spawn rather than subprocess.Popen: there is no Popen object to warn "still running" when
    it is collected, and the process outlives the launcher, as a background server should.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True)


def log_size(log: Path) -> int:
    """The current size of `log`, to show later only what a start wrote."""
    try:
        return log.stat().st_size
    except FileNotFoundError:
        return 0


def log_tail(log: Path, since: int = 0, lines: int = 25) -> str:
    """The last `lines` lines written to `log` after byte offset `since`, indented for an error message."""
    try:
        with log.open("rb") as file:
            file.seek(since)
            text = file.read().decode(errors="replace")
    except OSError:
        return "  (no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join("  " + line for line in tail) if tail else "  (log is empty)"


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion, also when called from async code (an async test).

    A running loop cannot nest asyncio.run, so the coroutine then gets a loop in a helper thread; the
    caller's loop is blocked meanwhile, as any synchronous call would block it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
