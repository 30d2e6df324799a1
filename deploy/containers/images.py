"""The images docker-compose.yml and the Dockerfile name, built on this machine from Debian packages.

Where no registry is reachable, `python:3.11-slim`, `postgres:15` and `apache/kafka:…` are built
locally under those names (from images/) on a Debian bookworm base made with debootstrap; an image of
that name that came from elsewhere (a registry) is left alone. Every step is cached: the base's root
filesystem as a tarball under ~/.cache/order-events/containers, the images' layers by podman, pip's
downloads in ~/.cache/pip (mounted into the app image's build).
"""

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Final

import yaml

from deploy.containers.engine import image_exists, podman
from deploy.local import kafka_jars
from deploy.local.base import StackError, cache_root, require_tool, say
from shared.services import REPO_ROOT

BASE_IMAGE: Final = "order-events/debian:bookworm"
APP_IMAGE: Final = "order-events:latest"
IMAGES_DIR: Final = Path(__file__).resolve().parent / "images"
COMPOSE_FILE: Final = REPO_ROOT / "docker-compose.yml"
DOCKERFILE: Final = REPO_ROOT / "Dockerfile"
STAND_IN_LABEL: Final = "org.order-events.stand-in"
APP_LABEL: Final = "org.order-events.app"
SUITE: Final = "bookworm"
DEFAULT_MIRROR: Final = "http://deb.debian.org/debian"
APT_SOURCES: Final = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
# The machine's CA certificates go into the images: outgoing HTTPS (pip's) may pass a proxy that
# presents certificates of a CA only this machine trusts.
CA_BUNDLE: Final = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_CAS: Final = Path("/usr/local/share/ca-certificates")
PIP_CONF: Final = "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n"


def _cache_dir() -> Path:
    return cache_root() / "containers"


def debian_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    for source in sources:
        if not source.exists():
            continue
        text = source.read_text()
        match = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.MULTILINE) or re.search(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s+" + SUITE + r"\s", text, re.MULTILINE
        )
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def _root_filesystem() -> Path:
    """The base's root filesystem as a tarball, made with debootstrap once and then cached."""
    tarball = _cache_dir() / f"debian-{SUITE}-minbase.tar"
    if tarball.exists():
        return tarball
    debootstrap = require_tool("debootstrap", "apt-get install -y debootstrap")
    mirror = debian_mirror()
    say(f"containers: debootstrap {SUITE} (minbase) from {mirror}")
    started = time.monotonic()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent) as work:
        root = Path(work) / "root"
        result = subprocess.run(
            [debootstrap, "--variant=minbase", SUITE, str(root), mirror],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"debootstrap failed:\n{(result.stdout + result.stderr)[-3000:]}")
        _trust_this_machines_cas(root)
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    say(f"containers: root filesystem cached in {tarball} ({time.monotonic() - started:.0f} s)")
    return tarball


def _trust_this_machines_cas(root: Path) -> None:
    """The machine's CA bundle, and its local CAs so a later update-ca-certificates keeps them."""
    (root / CA_BUNDLE.parent.relative_to("/")).mkdir(parents=True, exist_ok=True)
    shutil.copy(CA_BUNDLE, root / CA_BUNDLE.relative_to("/"))
    if LOCAL_CAS.is_dir():
        shutil.copytree(LOCAL_CAS, root / LOCAL_CAS.relative_to("/"), dirs_exist_ok=True)
    (root / "etc/pip.conf").write_text(PIP_CONF)


def _base() -> None:
    if not image_exists(BASE_IMAGE):
        podman("import", "--quiet", str(_root_filesystem()), BASE_IMAGE, capture=True)
        say(f"containers: imported {BASE_IMAGE}")


def stand_in_tags() -> dict[str, str]:
    """The image each stand-in is built as, by the names the Dockerfile and docker-compose.yml use."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    python = re.search(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    if python is None:
        raise StackError(f"{DOCKERFILE} names no base image (FROM)")
    return {"python": python.group(1), "postgres": services["postgres"]["image"], "kafka": services["kafka"]["image"]}


def qualified(name: str) -> str:
    """An image name as Docker reads it (`postgres:15` is docker.io/library/postgres:15): podman
    alone would tag a short name localhost/…, which its Docker-compatible API does not find."""
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{name}"
    if "." in first or ":" in first or first == "localhost":
        return name
    return f"docker.io/{name}"


def _kafka_context() -> Path:
    """The Kafka stand-in's build context: images/kafka plus the broker jars in libs/."""
    context = _cache_dir() / "kafka-context"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(IMAGES_DIR / "kafka", context)
    shutil.copytree(kafka_jars.jars(), context / "libs", ignore=shutil.ignore_patterns(".*"))
    return context


def _foreign(tag: str) -> bool:
    """Whether an image of that name exists and is not a stand-in (pulled from a registry, say)."""
    if not image_exists(tag):
        return False
    label = podman("image", "inspect", "--format", f'{{{{index .Labels "{STAND_IN_LABEL}"}}}}', tag, capture=True)
    return not label.strip()


def _build_stand_in(name: str, short_name: str) -> None:
    tag = qualified(short_name)
    if _foreign(tag):
        say(f"containers: {tag} is not a stand-in (a registry's?); using it as it is")
        return
    context = _kafka_context() if name == "kafka" else IMAGES_DIR / name
    started = time.monotonic()
    podman(
        "build", "--quiet", "--label", f"{STAND_IN_LABEL}=1", "-t", tag, "-f", str(context / "Containerfile"),
        str(context), capture=True,
    )  # fmt: skip
    say(f"containers: {tag} built ({time.monotonic() - started:.0f} s)")


def build_app() -> None:
    """The services' image (the Dockerfile), with pip's cache from this machine mounted."""
    pip_cache = cache_root().parent / "pip"  # pip's own cache on the host
    pip_cache.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    podman(
        "build", "--quiet", "-t", APP_IMAGE, "--label", f"{APP_LABEL}=1", "--volume", f"{pip_cache}:/root/.cache/pip",
        "--build-arg", "PIP_CACHE_OPTION=", str(REPO_ROOT), capture=True,
    )  # fmt: skip
    # The app image a rebuild replaced is left untagged: each would keep its ~0.5 GB.
    podman("image", "prune", "--force", "--filter", f"label={APP_LABEL}=1", capture=True)
    say(f"containers: {APP_IMAGE} built ({time.monotonic() - started:.0f} s)")


def build_all() -> None:
    """Every image the compose file needs: the base, the stand-ins, then the app."""
    _base()
    for name, tag in stand_in_tags().items():
        _build_stand_in(name, tag)
    build_app()
