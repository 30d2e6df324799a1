"""Elastic Path's error shapes: the routes' own refusals, and every problem document under `/v2/`.

The routes answer their 404 and 422 as Elastic Path does (seeds/README.md): `{"errors": {status, title,
detail, meta}}`, `errors` one object (`elastic_path_error`). Every other answer under `/v2/` that is a
problem document (the edge's 401, 403, 400, 406, 413, 415, 422, 429, 503) keeps its members (`type`,
`title`, `status`, `code`, `detail`) and gets Elastic Path's list in `errors` (`elastic_path_errors`, the
reshape `DialectErrors` applies): `[{status, title, detail}]`, and for a validation 422 naming fields one
entry per field, titled "Failed Validation", its `source` the field. The routes' own answers are plain
JSON, not problem documents, so they are never wrapped twice.
"""

from typing import Any, Final

from pydantic import BaseModel

from services.order_api.api.http import problem_responses

PREFIX: Final = "/v2/"
VALIDATION_TITLE: Final = "Failed Validation"


def elastic_path_error(status: int, title: str, detail: str, order_id: str | None = None) -> dict[str, Any]:
    """Elastic Path's error document (seeds/README.md): `errors` one object."""
    error: dict[str, Any] = {"status": status, "title": title, "detail": detail}
    if order_id is not None:
        error["meta"] = {"order_id": order_id}
    return {"errors": error}


class ElasticPathError(BaseModel):
    """One of Elastic Path's errors; `source` names the field a validation error is about."""

    status: int
    title: str
    detail: str
    source: str | None = None


class ElasticPathProblem(BaseModel):
    """An RFC 9457 problem with Elastic Path's `errors` list."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    errors: list[ElasticPathError]


_SCHEMA: Final = ElasticPathProblem.model_json_schema()


def elastic_path_problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting an Elastic Path route's problem answers, in this dialect's shape."""
    return problem_responses(*statuses, schema=_SCHEMA)


def elastic_path_errors(problem: dict[str, Any]) -> dict[str, Any]:
    """The problem document with Elastic Path's `errors` list in place of the field list."""
    status = problem.get("status")
    listed = problem.get("errors")
    errors: list[dict[str, Any]]
    if status == 422 and isinstance(listed, list) and listed:
        errors = []
        for error in listed:
            field, message = str(error.get("field", "body")), str(error.get("message", ""))
            errors.append({"status": 422, "title": VALIDATION_TITLE, "detail": f"{field}: {message}", "source": field})
    else:
        errors = [{"status": status, "title": problem.get("title", ""), "detail": problem.get("detail", "")}]
    return {**problem, "errors": errors}
