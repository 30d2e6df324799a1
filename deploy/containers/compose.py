"""docker-compose.yml run with podman-compose, and the health checks podman cannot run by itself.

podman runs a container's health check only from a systemd timer; without systemd nothing runs it,
so `podman healthcheck run` is called here in a loop until every container is healthy. podman-compose
honours `service_healthy` only with podman 4.6 or later (Debian bookworm has 4.3), and the podman
dependencies (`--requires`) it gives containers fail to start on podman 4.3 once the dependency has
exited (provision). So `up` starts the stages itself, each with `--no-deps`, as docker-compose.yml's
`depends_on` orders them: postgres and kafka until healthy, provision until it completes, then the rest.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from deploy.containers.engine import podman, podman_path
from deploy.containers.images import COMPOSE_FILE
from deploy.local.base import StackError, say

PROJECT: Final = "order-events"
# What the others depend on with `condition: service_healthy` in docker-compose.yml.
FOUNDATION: Final = ("postgres", "kafka")
# The one-shot job the others wait on with `condition: service_completed_successfully`.
PROVISION: Final = "provision"
READY_TIMEOUT_S: Final = 300.0
POLL_S: Final = 1.0
NO_HEALTHCHECK: Final = 125  # `podman healthcheck run` on a container without one


@dataclass(frozen=True)
class Compose:
    """One compose project: its name and files (docker-compose.yml, then any overrides)."""

    project: str = PROJECT
    files: Sequence[Path] = (COMPOSE_FILE,)
    # Variables the compose files read (`${NAME:-default}`), on top of this process's environment.
    variables: Mapping[str, str] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        files = [arg for path in self.files for arg in ("-f", str(path))]
        return [sys.executable, "-m", "podman_compose", "--podman-path", podman_path(), "--in-pod", "false",
                "-p", self.project, *files, *args]  # fmt: skip

    def run(self, *args: str) -> None:
        result = subprocess.run(
            self.command(*args),
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={**os.environ, **self.variables},
        )
        if result.returncode != 0:
            raise StackError(f"podman-compose {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-4000:]}")

    def services(self, exclude: Sequence[str] = ()) -> list[str]:
        """The services the compose files define, but those in `exclude`."""
        names = {name for path in self.files for name in (yaml.safe_load(path.read_text()).get("services") or {})}
        return sorted(names - set(exclude))

    def containers(self) -> list[dict[str, Any]]:
        """The project's containers, as `podman ps --all` describes them."""
        listing = podman(
            "ps",
            "--all",
            "--format",
            "json",
            "--filter",
            f"label=io.podman.compose.project={self.project}",
            capture=True,
        )
        found: list[dict[str, Any]] = json.loads(listing or "[]")
        return found

    def published(self, container: str, port: int) -> str:
        """The host address (host:port) a container's port is published on."""
        return podman("port", container, str(port), capture=True).strip().splitlines()[0]

    def gateway(self) -> str:
        """The host's address on the project's network, where containers reach the host."""
        network = f"{self.project}_default"
        return podman(
            "network", "inspect", "--format", "{{range .Subnets}}{{.Gateway}}{{end}}", network, capture=True
        ).strip()

    def up(self, *args: str) -> None:
        """Start the project (images built beforehand) and return once every container is healthy."""
        started = time.monotonic()
        self.run("up", "--detach", "--no-build", "--no-deps", *args, *FOUNDATION)
        self.wait_healthy(FOUNDATION)
        self.run("up", "--detach", "--no-build", "--no-deps", PROVISION)
        self.wait_healthy([PROVISION])
        self.run("up", "--detach", "--no-build", "--no-deps", *args, *self.services(exclude=(*FOUNDATION, PROVISION)))
        self.wait_healthy()
        say(f"containers: {self.project} up and healthy in {time.monotonic() - started:.0f} s")

    def down(self, purge: bool = False) -> None:
        started = time.monotonic()
        self.run("down", "--timeout", "30", *(["--volumes"] if purge else []))
        say(f"containers: {self.project} down in {time.monotonic() - started:.0f} s")

    def remove(self) -> None:
        """Kill and remove the project's containers, volumes and network at once: no graceful stop,
        for a test's throwaway project (`down` stops each container in turn)."""
        label = f"label=io.podman.compose.project={self.project}"
        names = [container["Names"][0] for container in self.containers()]
        if names:
            podman("rm", "--force", "--time", "0", *names, capture=True)
        volumes = podman("volume", "ls", "--quiet", "--filter", label, capture=True).split()
        if volumes:
            podman("volume", "rm", "--force", *volumes, capture=True)
        podman("network", "rm", "--force", f"{self.project}_default", capture=True, check=False)

    def wait_healthy(self, services: Sequence[str] = ()) -> None:
        """Run the health checks until every running container of `services` (all if empty) passes
        its own; a container that exited fails, except one that completed (provision)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            pending = self._check(services)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise StackError(f"not healthy within {READY_TIMEOUT_S:.0f} s: {', '.join(pending)}")
            time.sleep(POLL_S)

    def _check(self, services: Sequence[str]) -> list[str]:
        pending = []
        for container in self.containers():
            name = container["Names"][0]
            service = container["Labels"].get("com.docker.compose.service", "")
            if services and service not in services:
                continue
            if container["State"] == "exited":
                if container["ExitCode"] == 0 and service == PROVISION:
                    continue
                logs = podman("logs", "--tail", "30", name, capture=True, check=False)
                raise StackError(f"{name} exited ({container['ExitCode']}):\n{logs}")
            if container["State"] != "running" or service == PROVISION:
                pending.append(name)
                continue
            if "(healthy)" in container["Status"]:
                continue
            check = subprocess.run([podman_path(), "healthcheck", "run", name], check=False, capture_output=True)
            if check.returncode not in (0, NO_HEALTHCHECK):
                pending.append(name)
        return pending
