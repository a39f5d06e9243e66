"""Render every error as RFC 9457 `application/problem+json` with a stable machine `code`.

Nothing but our own wording leaves here: no stack trace, no exception text, no Stripe message.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from checkout_api.errors import ProblemError, RequestValidationFailed

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("checkout_api.errors")

_HTTP_CODES = {
    404: ("not_found", "Not found", "No such resource."),
    405: ("method_not_allowed", "Method not allowed", "This resource does not accept the method."),
}


def problem_response(
    request: Request | None,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    retry_after: int | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:checkout-api:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    request_id = request.scope.get("state", {}).get("request_id") if request else None
    if request_id:
        body["request_id"] = request_id
    if request is not None:
        body["instance"] = request.url.path
    if extra:
        body.update(extra)
    out_headers = dict(headers or {})
    if retry_after is not None:
        out_headers["Retry-After"] = str(retry_after)
    return Response(orjson.dumps(body), status, out_headers, media_type=PROBLEM_JSON)


def render(request: Request | None, error: ProblemError) -> Response:
    if request is not None:
        request.scope.setdefault("state", {})["error_code"] = error.code
    return problem_response(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        retry_after=error.retry_after,
        extra=error.extra,
    )


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'items', 2, 'price') -> 'items[2].price'."""
    path = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_problem(errors: list[dict[str, Any]]) -> RequestValidationFailed:
    items = [
        {"field": field_path(error.get("loc", ())), "message": error.get("msg", "is invalid")}
        for error in errors
    ]
    fields = ", ".join(dict.fromkeys(item["field"] for item in items))
    return RequestValidationFailed(f"Invalid value for: {fields}.", extra={"errors": items})


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> Response:
        return render(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        return render(request, validation_problem(list(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code, title, detail = _HTTP_CODES.get(
            error.status_code, ("http_error", "Request failed", "The request failed.")
        )
        request.scope.setdefault("state", {})["error_code"] = code
        return problem_response(
            request,
            status=error.status_code,
            code=code,
            title=title,
            detail=detail,
            headers=dict(error.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        log.error("request.failed", error_type=type(error).__name__)
        return render(request, ProblemError())
