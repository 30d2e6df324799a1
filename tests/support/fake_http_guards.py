"""order_api's idempotency keys and rate-limit windows in memory (the store's `HttpGuardRecords`), on a
clock the test moves."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared.idempotency import KeyRecord
from shared.rate_limits import WindowCount


@dataclass
class _Key:
    record: KeyRecord
    locked_until: float
    expires_at: float
    order_id: int | None = None


class FakeHttpGuardRecords:
    """Idempotency keys and rate-limit windows on a clock the test moves (`now`, in seconds)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.keys: dict[tuple[str, str], _Key] = {}
        self.windows: dict[tuple[str, float], tuple[int, float]] = {}  # (bucket, start) -> (hits, end)

    async def claim_key(
        self, principal: str, key: str, fingerprint: str, *, lease_seconds: float, ttl_seconds: float
    ) -> KeyRecord | None:
        held = self.keys.get((principal, key))
        if (
            held is None
            or held.expires_at <= self.now
            or (held.record.status is None and held.locked_until <= self.now and held.record.fingerprint == fingerprint)
        ):
            record = KeyRecord(fingerprint, None, [], b"")
            self.keys[principal, key] = _Key(record, self.now + lease_seconds, self.now + ttl_seconds)
            return None
        return held.record

    async def complete_key(
        self,
        principal: str,
        key: str,
        *,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        order_id: int | None = None,
    ) -> None:
        held = self.keys[principal, key]
        held.record = replace(held.record, status=status, headers=list(headers), body=body)
        held.order_id = order_id

    async def release_key(self, principal: str, key: str) -> None:
        held = self.keys.get((principal, key))
        if held is not None and held.record.status is None:
            del self.keys[principal, key]

    async def count_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        start = self.now // window_seconds * window_seconds
        counted = []
        for bucket in buckets:
            hits, end = self.windows.get((bucket, start), (0, start + window_seconds))
            self.windows[bucket, start] = (hits + 1, end)
            counted.append(WindowCount(bucket, hits + 1, end - self.now))
        return counted

    async def peek_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        start = self.now // window_seconds * window_seconds
        held = [(bucket, self.windows.get((bucket, start))) for bucket in buckets]
        return [WindowCount(bucket, window[0], window[1] - self.now) for bucket, window in held if window is not None]

    async def purge(self, batch_rows: int) -> int:
        keys = [name for name, held in self.keys.items() if held.expires_at <= self.now]
        for name in keys:
            del self.keys[name]
        return len(keys)
