"""The router of a service's JSON API behind one scope: every route needs an API key holding `scope`,
and documents the refusals every such route shares."""

from fastapi import APIRouter, Depends

from shared.auth import require_scope
from shared.problems import problem_responses


def scoped_router(tag: str, scope: str) -> APIRouter:
    return APIRouter(
        tags=[tag],
        dependencies=[Depends(require_scope(scope))],
        responses=problem_responses(
            {
                400: "The body is not valid JSON",
                401: "No API key, or an unknown one (`Authorization: Bearer <key>`)",
                403: f"The API key lacks the scope {scope}",
                422: "Invalid or missing fields; `errors` names them",
            }
        ),
    )
