"""The local stack's ports stay out of the kernel's ephemeral range, where a retrying client can take them."""

from pathlib import Path

import pytest

from deploy.local.base import StackError, check_listen_port, ephemeral_ports
from shared.services import LOCAL_KAFKA_PORT, LOCAL_PG_PORT, local_port

LINUX_DEFAULT = range(32768, 61000)


def test_the_local_ports_lie_below_linux_default_ephemeral_range() -> None:
    for port in (LOCAL_PG_PORT, LOCAL_KAFKA_PORT, LOCAL_KAFKA_PORT + 1):
        check_listen_port(port, "LOCAL_PORT", LINUX_DEFAULT)


def test_the_local_ports_default_to_15432_and_19092_and_move_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_PG_PORT", raising=False)
    assert local_port("LOCAL_PG_PORT", 15432) == 15432
    monkeypatch.setenv("LOCAL_PG_PORT", "16432")
    assert local_port("LOCAL_PG_PORT", 15432) == 16432
    monkeypatch.setenv("LOCAL_PG_PORT", "port")
    with pytest.raises(ValueError, match="not a TCP port"):
        local_port("LOCAL_PG_PORT", 15432)


def test_a_port_inside_the_ephemeral_range_is_refused_naming_the_setting() -> None:
    with pytest.raises(StackError, match=r"59092 lies in .*32768-60999.*set LOCAL_KAFKA_PORT to a port below 32768"):
        check_listen_port(59092, "LOCAL_KAFKA_PORT", LINUX_DEFAULT)


def test_the_range_is_read_from_the_kernel_setting(tmp_path: Path) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("10000\t20000\n")
    assert ephemeral_ports(setting) == range(10000, 20001)
    assert ephemeral_ports(tmp_path / "absent") is None
