"""The anonymizer's background loops (shared/periodic.py): the erasure deadline check, and the retention
sweep when ANONYMIZER_RETENTION_DAYS is set. Any number of instances may run them: each deadline run
locks the records it reports (SKIP LOCKED), and one instance at a time sweeps (service/retention.py)."""

from services.anonymizer.service import postgres_ports
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.retention import RetentionService
from services.anonymizer.settings import AnonymizerSettings
from shared.periodic import run_periodically
from shared.runtime import Runtime


async def overdue_erasures(runtime: Runtime[AnonymizerSettings]) -> None:
    service = ErasureService(postgres_ports(runtime.pool, runtime.settings))
    await run_periodically("overdue erasures", service.report_overdue, runtime.settings.overdue_interval_seconds)


async def retention_sweep(runtime: Runtime[AnonymizerSettings]) -> None:
    settings = runtime.settings
    assert settings.retention_days is not None, "started only with a retention period"
    service = RetentionService(postgres_ports(runtime.pool, settings), settings.retention_days)
    await run_periodically("retention sweep", service.sweep, settings.retention_interval_seconds)
