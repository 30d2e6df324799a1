"""The locally built images carry the names Docker would resolve, and what they are built from agrees
with the files that use them."""

import re
from pathlib import Path

import pytest

from deploy.containers.images import DEFAULT_MIRROR, debian_mirror, qualified, stand_in_tags
from deploy.local.kafka_jars import POM


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postgres:15", "docker.io/library/postgres:15"),
        ("apache/kafka:4.1.1", "docker.io/apache/kafka:4.1.1"),
        ("localhost/order-events:latest", "localhost/order-events:latest"),
        ("quay.io/team/image:1", "quay.io/team/image:1"),
        ("registry:5000/image:1", "registry:5000/image:1"),
    ],
)
def test_image_names_are_qualified_as_docker_reads_them(name: str, expected: str) -> None:
    assert qualified(name) == expected


def test_the_kafka_stand_in_is_named_for_the_broker_version_whose_jars_it_holds() -> None:
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert version is not None
    assert stand_in_tags()["kafka"].endswith(f":{version.group(1)}")


def test_the_python_stand_in_is_the_dockerfiles_base() -> None:
    assert stand_in_tags()["python"] == "python:3.11-slim"


def test_the_mirror_is_read_from_apts_sources_of_either_format(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n")
    one_line = tmp_path / "sources.list"
    one_line.write_text("deb [arch=amd64] http://other.example/debian/ bookworm main\n")
    assert debian_mirror((deb822, one_line)) == "http://mirror.example/debian"
    assert debian_mirror((tmp_path / "absent", one_line)) == "http://other.example/debian"
    assert debian_mirror((tmp_path / "absent",)) == DEFAULT_MIRROR
