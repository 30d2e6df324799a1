"""The anonymizer's background loop: the erasure deadline check (shared/periodic.py). Any number of
instances may run it: each run locks the records it reports (SKIP LOCKED)."""

from services.anonymizer.service import postgres_ports
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.settings import AnonymizerSettings
from shared.periodic import run_periodically
from shared.runtime import Runtime


async def overdue_erasures(runtime: Runtime[AnonymizerSettings]) -> None:
    service = ErasureService(postgres_ports(runtime.pool, runtime.settings))

    async def report() -> None:
        await service.report_overdue()

    await run_periodically("overdue erasures", report, runtime.settings.overdue_interval_seconds)
