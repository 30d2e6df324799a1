"""HTTP conventions every order dialect shares: versions as ETags, If-Match preconditions."""

from typing import Annotated

from fastapi import Header, Response

from shared.problems import Problem


def etag(sequence: int) -> str:
    """An order's version as a strong ETag: its event sequence, which every change increments."""
    return f'"{sequence}"'


def set_etag(response: Response, sequence: int) -> None:
    response.headers["ETag"] = etag(sequence)


def if_match_version(
    if_match: Annotated[
        str | None,
        Header(description="Only apply the change if the order is still at this ETag (else 412)."),
    ] = None,
) -> int | None:
    """The version an `If-Match` header names; None when absent or `*` (any version)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Problem(
            400,
            "invalid_if_match",
            'If-Match must be an ETag this API returned, such as "3".',
            errors=[{"field": "If-Match", "message": "not an ETag of this API"}],
        )
    return int(value)
