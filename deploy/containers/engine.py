"""podman as this project drives it: its configuration on machines like CI's, and running it."""

import shutil
import subprocess
from pathlib import Path
from typing import Final

from deploy.local.base import StackError, require_tool

CONTAINERS_CONF: Final = Path("/etc/containers/containers.conf")
# crun fails on hybrid cgroups without systemd, and podman's default ulimits exceed what such a
# machine lets a container raise; runc, cgroupfs and these limits work there and anywhere else.
REQUIRED_CONF: Final = """\
# Written by `python -m deploy.containers` (README, "Containers").
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
PODMAN_HINT: Final = "apt-get install -y podman runc debootstrap"


def podman_path() -> str:
    return require_tool("podman", PODMAN_HINT)


def configure(conf: Path = CONTAINERS_CONF) -> None:
    """Write podman's configuration unless the machine has its own (then it is left alone)."""
    if conf.exists():
        return
    require_tool("runc", PODMAN_HINT)
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(REQUIRED_CONF)


def podman(*args: str, capture: bool = False, check: bool = True) -> str:
    """Run `podman ARGS`; its standard output when `capture`, else it goes to the terminal."""
    result = subprocess.run(
        [podman_path(), *args],
        check=False,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or "").strip() if capture else ""
        raise StackError(
            f"podman {' '.join(args[:2])} failed (exit {result.returncode}){': ' + detail if detail else ''}"
        )
    return result.stdout or ""


def image_exists(name: str) -> bool:
    return subprocess.run([podman_path(), "image", "exists", name], check=False).returncode == 0


def available() -> bool:
    """Whether podman is installed (the container tests need it)."""
    return shutil.which("podman") is not None and shutil.which("runc") is not None
