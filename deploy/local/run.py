"""`run`: the stack plus the four services, the payments sandbox and the SMTP sink, their output merged
into one terminal like docker compose."""

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from typing import Final, TextIO

from deploy.demo_catalog import publish_demo_catalog
from deploy.local.base import LOGS_DIR, say
from deploy.local.smtp_sink import DEFAULT_PORT as SMTP_SINK_PORT
from deploy.local.smtp_sink import MAIL_DIR
from deploy.local.stack import down, service_url, up
from deploy.sandbox.payments import DEFAULT_PORT as SANDBOX_PORT
from shared.services import REPO_ROOT, SERVICES


@dataclass(frozen=True, slots=True)
class LocalProcess:
    name: str
    module: str  # run as `python -m <module>`
    banner: str  # what the launcher says about where it is


# The local stand-ins for what lies outside the project start first, so the services find them.
PROCESSES: Final = (
    LocalProcess("smtp_sink", "deploy.local.smtp_sink", f"smtp://127.0.0.1:{SMTP_SINK_PORT}  (mail in {MAIL_DIR})"),
    LocalProcess(
        "payments_sandbox", "deploy.sandbox.payments", f"http://127.0.0.1:{SANDBOX_PORT}/commands/<idempotency key>"
    ),
    *(LocalProcess(spec.name, f"services.{spec.name}", "") for spec in SERVICES),
)

# Longer than a service's own drain (shared.settings shutdown_grace_seconds, 15 s by default).
GRACE_S: Final = 25.0
LINE_LIMIT: Final = 1 << 20  # a longer log line is dropped rather than ending the stream
COLOURS: Final = ("36", "33", "32", "35", "34", "31")
WIDTH: Final = max(len(process.name) for process in PROCESSES) + 2


def _prefix(index: int, name: str, out: TextIO) -> str:
    prefix = f"{name.ljust(WIDTH)} |"
    return f"\x1b[{COLOURS[index % len(COLOURS)]}m{prefix}\x1b[0m" if out.isatty() else prefix


async def _pump(prefix: str, name: str, process: asyncio.subprocess.Process) -> None:
    """Copy a process's output to the terminal, prefixed, and to .local/logs/<name>.log."""
    assert process.stdout is not None
    with (LOGS_DIR / f"{name}.log").open("ab") as log:
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:
                line = b"(a line longer than 1 MiB was dropped)\n"
            if not line:
                return
            log.write(line)
            log.flush()
            sys.stdout.write(f"{prefix} {line.decode(errors='replace').rstrip()}\n")
            sys.stdout.flush()


async def _supervise(dsn: str, bootstrap: str) -> int:
    """Run the services until a signal (exit 0) or until all of them have exited (exit 1)."""
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PYTHONUNBUFFERED": "1"}
    processes: dict[str, asyncio.subprocess.Process] = {}
    stopping = asyncio.Event()

    async def watch(index: int, spec: LocalProcess) -> None:
        # Its own session: the terminal's Ctrl-C reaches only this launcher, which then stops the
        # services with one SIGTERM each, as an orchestrator would.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", spec.module,
            cwd=REPO_ROOT, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True, limit=LINE_LIMIT,
        )  # fmt: skip
        processes[spec.name] = process
        prefix = _prefix(index, spec.name, sys.stdout)
        await _pump(prefix, spec.name, process)
        code = await process.wait()
        if not stopping.is_set():
            say(f"{prefix} exited with code {code}; the other services keep running")

    def on_signal() -> None:
        if stopping.is_set():  # a second Ctrl-C: no more patience
            for process in processes.values():
                if process.returncode is None:
                    process.kill()
        stopping.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)

    watchers = asyncio.gather(*(watch(index, spec) for index, spec in enumerate(PROCESSES)))
    stop_wait: asyncio.Future[object] = asyncio.ensure_future(stopping.wait())
    await asyncio.sleep(0.5)  # let the processes start before the banner
    say("services (Ctrl-C stops them and the stack):")
    for spec in SERVICES:
        base = service_url(spec)
        say(f"  {spec.name.ljust(WIDTH)} {base}/docs  {base}/health/ready  {base}/metrics")
    for extra in PROCESSES[:2]:
        say(f"  {extra.name.ljust(WIDTH)} {extra.banner}")
    await asyncio.wait((watchers, stop_wait), return_when=asyncio.FIRST_COMPLETED)
    if not stopping.is_set():
        stop_wait.cancel()
        await watchers  # re-raises a failure to start a service
        say("run: every service has exited")
        return 1

    say(f"run: stopping the services (SIGTERM, up to {GRACE_S:.0f} s)")
    for process in processes.values():
        if process.returncode is None:
            process.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(watchers), GRACE_S)
    except TimeoutError:
        for name, process in processes.items():
            if process.returncode is None:
                say(f"run: {name} did not stop in {GRACE_S:.0f} s; SIGKILL")
                process.kill()
        await watchers
    return 0


def run() -> int:
    """Bring the stack up, run the services in the foreground, then take the stack down."""
    dsn, bootstrap = up()
    try:
        # Facts wait in orders.ingest until order_api consumes them, so the examples' variants and
        # customer are there as soon as it starts.
        say(f"demo catalog: {asyncio.run(publish_demo_catalog(bootstrap))} facts published to orders.ingest")
        return asyncio.run(_supervise(dsn, bootstrap))
    finally:
        down()
