"""The HTTP contract every order route keeps: JSON in (415) and out (406); bodies are bounded for
every service (shared.body_limit).

Each refusal is a problem document naming the header or body to fix, and comes before any work.
"""

from typing import Final

from fastapi import Request

from shared.problems import Problem

# What the routes answer; errors come as application/problem+json whatever Accept says.
_JSON: Final = "application/json"


async def negotiate(request: Request) -> None:
    """A router dependency: 406 unless the client accepts JSON, 415 for a body that is not JSON."""
    accept = request.headers.get("accept")
    if accept and _quality(accept, _JSON) <= 0:
        raise Problem(
            406,
            "not_acceptable",
            "This API answers application/json (errors: application/problem+json); allow it in Accept.",
            errors=[{"field": "Accept", "message": f"{accept[:100]!r} excludes JSON"}],
        )
    if await request.body() and not _is_json(request.headers.get("content-type", "")):
        raise Problem(
            415,
            "unsupported_media_type",
            "Send the request body as JSON, with Content-Type: application/json.",
            errors=[{"field": "Content-Type", "message": "must be application/json"}],
        )


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _quality(accept: str, media_type: str) -> float:
    """The q an Accept header gives `media_type`: that of its most specific matching range, 0 if none."""
    kind = media_type.split("/", 1)[0]
    best_specificity, best_quality = -1, 0.0
    for item in accept.split(","):
        media_range, *parameters = (part.strip().lower() for part in item.split(";"))
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range, -1)
        if specificity > best_specificity:
            best_specificity, best_quality = specificity, _q(parameters)
    return best_quality


def _q(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
