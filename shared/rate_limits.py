"""Fixed-window rate limits counted in Postgres (`rate_windows`, in each service's schema), so that
a limit holds however many instances run. A bucket names what is counted (an API key, a client's
attempts); a window lets at most twice the limit through around its edge. order_api's guest lookups
and token failures count here, and so does every service's limit per API key (shared/key_rate_limit.py).
"""

import math
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from shared.db import Statements


class WindowCount(NamedTuple):
    """A bucket's requests so far in its current fixed window, and the seconds until the window ends."""

    bucket: str
    hits: int
    remaining_seconds: float


def retry_after(limits: Mapping[str, int], counted: Sequence[WindowCount]) -> int | None:
    """The whole seconds to wait once any bucket is over its limit (at least 1); None when none is."""
    waits = [count.remaining_seconds for count in counted if count.hits > limits[count.bucket]]
    return max(1, math.ceil(max(waits))) if waits else None


# The start of the fixed window of `$2` seconds that now falls in: every limit's one rule of windows.
_WINDOW_START: Final = "to_timestamp(floor(extract(epoch FROM now()) / $2::integer) * $2::integer)"


class RateLimitWindows:
    """The request counters of fixed windows, through `conn` (`shared.db.Statements`)."""

    def __init__(self, conn: Statements) -> None:
        self.conn = conn

    async def count_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        """Count one request in each bucket's current fixed window; per bucket, the hits so far in the
        window and the seconds until it ends. Buckets are locked in the order given, so callers that
        list them in one consistent order cannot deadlock."""
        rows = await self.conn.fetch(
            f"""
            INSERT INTO rate_windows AS w (bucket, window_start, window_end, hits)
            SELECT bucket, start, start + make_interval(secs => $2::integer), 1
              FROM unnest($1::text[]) WITH ORDINALITY AS b (bucket, position),
                   (SELECT {_WINDOW_START} AS start) AS s
             ORDER BY position
            ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
            RETURNING bucket, hits, extract(epoch FROM window_end - now())::float8 AS remaining
            """,
            list(buckets),
            window_seconds,
        )
        return [WindowCount(row["bucket"], row["hits"], row["remaining"]) for row in rows]

    async def peek_hits(self, buckets: Sequence[str], window_seconds: int) -> list[WindowCount]:
        """The hits so far in each bucket's current fixed window, counting none; buckets with no hits in
        it are left out."""
        rows = await self.conn.fetch(
            f"""
            SELECT bucket, hits, extract(epoch FROM window_end - now())::float8 AS remaining
              FROM rate_windows
             WHERE bucket = ANY($1::text[])
               AND window_start = {_WINDOW_START}
            """,
            list(buckets),
            window_seconds,
        )
        return [WindowCount(row["bucket"], row["hits"], row["remaining"]) for row in rows]
