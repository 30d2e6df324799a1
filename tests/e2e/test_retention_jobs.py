"""Every running service runs the kernel tables' retention (shared/retention.py) from its start, and
order_api its HTTP guards' purge: their last runs are on `/metrics`."""

import functools

import httpx

from tests.support.polling import eventually
from tests.support.processes import ServiceProcess


async def metrics(service: ServiceProcess) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(service.url + "/metrics")).text


def ran_kernel_retention(text: str) -> bool:
    return 'retention_last_run_timestamp_seconds{job="kernel tables"}' in text


async def test_every_service_reports_its_retention_runs_on_metrics(system: dict[str, ServiceProcess]) -> None:
    for service in system.values():
        await eventually(functools.partial(metrics, service), ran_kernel_retention)
    order_api = await eventually(functools.partial(metrics, system["order_api"]), ran_kernel_retention)
    assert 'retention_last_run_timestamp_seconds{job="http guards"}' in order_api
