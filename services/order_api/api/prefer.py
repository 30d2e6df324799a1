"""`Prefer: wait=N` (RFC 7240) on the routes that start a refund: the caller would rather wait up to N
seconds (at most 30) for the refund to settle than be answered at once with it pending.

A preference the server does not understand is ignored, as the RFC asks: a malformed `wait` is no
preference at all. A route that honours it says so with `Preference-Applied: wait=N`.
"""

from typing import Annotated, Final

from fastapi import Depends, Header, Response

MAX_WAIT_SECONDS: Final = 30


async def wait_preference(
    prefer: Annotated[
        str | None,
        Header(
            description="`wait=N`: wait up to N seconds (at most 30) for the refund to settle, and answer with "
            "it settled (or still pending, if it has not settled by then); `Preference-Applied` echoes it",
            examples=["wait=10"],
        ),
    ] = None,
) -> int | None:
    """The seconds a `Prefer` header asks to wait (capped at 30); None without a valid `wait`. (async:
    FastAPI runs a plain `def` dependency in a worker thread, a hop on every cancel and refund)"""
    if prefer is None:
        return None
    for preference in prefer.split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() != "wait":
            continue
        value = value.strip().strip('"')
        if value.isascii() and value.isdigit() and len(value) <= 6:
            return min(int(value), MAX_WAIT_SECONDS)
        return None
    return None


PreferWait = Annotated[int | None, Depends(wait_preference)]

PREFERENCE_APPLIED: Final = {
    "Preference-Applied": {
        "description": "`wait=N` when the route honoured `Prefer: wait`",
        "schema": {"type": "string"},
    }
}


def applied(response: Response, wait: int | None) -> Response:
    """`response`, saying which wait it honoured."""
    if wait is not None:
        response.headers["Preference-Applied"] = f"wait={wait}"
    return response
