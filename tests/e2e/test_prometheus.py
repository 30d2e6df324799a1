"""A real Prometheus (Debian's package) with deploy/observability's config and rules, scraping the
running services: every one is up and ready, and a consumer group's lag read back from its query API
rises while the group is held up and falls to zero once it catches up."""

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
import yaml

from shared.services import REPO_ROOT
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess, free_port
from tests.support.storefront import CREATE_PATH, order_body

OBSERVABILITY: Final = REPO_ROOT / "deploy" / "observability"
ORDERS: Final = 5
ANONYMIZER_LAG: Final = (
    'sum(max by (topic, partition) (kafka_consumer_lag_messages{group="anonymizer", topic="orders.events"}))'
)


@pytest.fixture(scope="module")
def prometheus(system: dict[str, ServiceProcess], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus on a private port with the checked-in config, its targets moved to the test session's
    services and its intervals shortened to a second; its base URL."""
    assert shutil.which("prometheus"), "prometheus is missing: apt-get install -y prometheus (./dev test does)"
    workdir = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{system[job['job_name']].port}"]}]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(OBSERVABILITY / "alerts.yml", workdir / "alerts.yml")
    port = free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, workdir / "prometheus.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"prometheus not ready: {log.read_text(errors='replace')[-2000:]}")


async def query(http: httpx.AsyncClient, prometheus: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    answer = await http.get(f"{prometheus}/api/v1/query", params={"query": promql})
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


async def value(http: httpx.AsyncClient, prometheus: str, promql: str) -> float | None:
    result = await query(http, prometheus, promql)
    return float(result[0]["value"][1]) if result else None


async def test_prometheus_sees_every_service_up_and_ready_and_loads_the_rules(
    prometheus: str, http: httpx.AsyncClient
) -> None:
    def every_service(result: list[dict[str, Any]]) -> bool:
        return {(series["metric"]["job"], series["value"][1]) for series in result} == {
            (name, "1") for name in ("order_api", "anonymizer", "cancellation_worker", "webhook_dispatcher")
        }

    await eventually(lambda: query(http, prometheus, "up"), every_service)
    await eventually(lambda: query(http, prometheus, "service_ready"), every_service)
    rules = (await http.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
    loaded = {rule["name"]: rule["health"] for group in rules for rule in group["rules"]}
    assert "ConsumerLagGrowing" in loaded
    assert set(loaded.values()) <= {"ok", "unknown"}  # unknown: not evaluated yet


async def test_a_held_up_consumer_groups_lag_rises_in_prometheus_and_falls_once_it_catches_up(
    prometheus: str,
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    stack: tuple[str, str],
) -> None:
    await eventually(lambda: value(http, prometheus, ANONYMIZER_LAG), lambda lag: lag == 0)
    # The anonymizer records every event it takes in processed_events: while that table is locked, its
    # consumers wait with their offsets uncommitted, as a group stuck on a slow database would.
    holder = await asyncpg.connect(stack[0])
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE anonymizer.processed_events IN SHARE MODE")
            for _ in range(ORDERS):
                created = await http.post(system["order_api"].url + CREATE_PATH, json=order_body())
                assert created.status_code == 201, created.text
            held = await eventually(
                lambda: value(http, prometheus, ANONYMIZER_LAG), lambda lag: lag is not None and lag >= ORDERS
            )
            assert held == ORDERS  # nothing else is being published meanwhile
    finally:
        await holder.close()

    await eventually(lambda: value(http, prometheus, ANONYMIZER_LAG), lambda lag: lag == 0)
