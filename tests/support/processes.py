"""Run the services as a user runs them: `python -m services.<name>` in processes of their own."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx

from deploy.local.base import ephemeral_ports
from shared.services import REPO_ROOT, ServiceSpec


def free_port() -> int:
    """A free port below the ephemeral range: a service a test restarts comes back on its port, which
    a client retrying meanwhile could otherwise have been given as its own source port."""
    ephemeral = ephemeral_ports()
    high = min(ephemeral.start if ephemeral else 32768, 32768)
    for _ in range(200):
        port = random.randrange(20000, high)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in 20000-{high - 1}")


class ServiceProcess:
    """One service process on a free port, with its log in a file; restartable after a kill. `module`
    runs something other than the service of `spec` (a local stand-in such as the payments sandbox);
    `instance` names one of several instances of a service (its log file's name)."""

    def __init__(
        self,
        spec: ServiceSpec,
        stack: tuple[str, str],
        log_dir: Path,
        extra_env: dict[str, str],
        module: str | None = None,
        instance: str = "",
    ) -> None:
        self.spec = spec
        self.module = module or f"services.{spec.name}"
        self.port = free_port()
        self.log_path = log_dir / f"{spec.name}{instance and '-' + instance}.log"
        admin_dsn, bootstrap = stack
        self.env = {
            **os.environ,
            "DATABASE_URL": admin_dsn,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{spec.env_prefix}HTTP_PORT": str(self.port),
            f"{spec.env_prefix}SHUTDOWN_GRACE_SECONDS": "10",
            **extra_env,
        }
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self, *, wait_ready: bool = True, timeout: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_until("/health/ready" if wait_ready else "/health/live", timeout)

    def wait_until(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.spec.name} exited; log:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.spec.name} not answering {path} after {timeout} s; log:\n{self.log_tail()}")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator stops a container; returns the exit code."""
        return self._signal(signal.SIGTERM, timeout)

    def interrupt(self, timeout: float = 30.0) -> int:
        """SIGINT, as Ctrl-C does; returns the exit code."""
        return self._signal(signal.SIGINT, timeout)

    def kill(self) -> int:
        """SIGKILL: the process gets no chance to clean up."""
        return self._signal(signal.SIGKILL, 10.0)

    @contextlib.contextmanager
    def restarted(self, settings: dict[str, str]) -> Iterator["ServiceProcess"]:
        """The process restarted with `settings` on top of its own, and restarted as it was afterwards."""
        original = dict(self.env)
        self.terminate()
        self.env.update(settings)
        self.start()
        try:
            yield self
        finally:
            if self.running:
                self.terminate()
            self.env.clear()
            self.env.update(original)
            self.start()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The process stopped (SIGSTOP) and then resumed: a peer that is slow to answer. Keep it short:
        a consumer silent past its group's session timeout is rebalanced out (and comes back)."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def _signal(self, signum: signal.Signals, timeout: float) -> int:
        assert self._process is not None
        if self._process.poll() is None:
            self._process.send_signal(signum)
        code = self._process.wait(timeout)
        self._process = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_services(
    specs: Iterable[ServiceSpec], stack: tuple[str, str], log_dir: Path, extra_env: dict[str, str]
) -> Iterator[dict[str, ServiceProcess]]:
    """A process per service of `specs`, by name, started and ready; those still running are stopped
    (SIGTERM) afterwards."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = {spec.name: ServiceProcess(spec, stack, log_dir, extra_env) for spec in specs}
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            if process.running:
                process.terminate()
