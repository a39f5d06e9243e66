"""One pure-ASGI middleware for every request: request id, access log, metrics, headers.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it costs far less per request, and it
catches anything unexpected itself so that the server never prints a traceback to a caller
or its logs (the error is logged by type, with the request id, instead).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout_api import metrics
from checkout_api.api.problems import problem_response
from checkout_api.checkout.pci import contains_card_number

log = structlog.get_logger("checkout_api.access")

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9\-_.:]{1,128}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cache-control", b"no-store"),
]
UNMATCHED_ROUTE = "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"server", b"x-powered-by")
                ]
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:  # the last line of defence: a problem, never a traceback
            log.error("request.failed", error_type=type(error).__name__)
            state["error_code"] = "internal_error"
            if not response_started:
                response = problem_response(
                    None,
                    status=500,
                    code="internal_error",
                    title="Internal error",
                    detail="The service failed to handle the request.",
                    extra={"request_id": request_id},
                )
                await response(scope, receive, send_with_headers)
        finally:
            self._record(scope, state, status, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, duration: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", UNMATCHED_ROUTE)
        method = scope["method"]
        metrics.HTTP_REQUESTS.labels(template, method, str(status)).inc()
        metrics.HTTP_LATENCY.labels(template, method).observe(duration)
        fields = structlog.contextvars.get_contextvars()
        level = "warning" if status >= 500 else "info"
        getattr(log, level)(
            "http.request",
            method=method,
            route=template,
            status=status,
            duration_ms=round(duration * 1000, 2),
            session_id=fields.get("session_id"),
            stripe_request_id=fields.get("stripe_request_id"),
            code=state.get("error_code"),
        )


def _incoming_request_id(scope: Scope) -> str | None:
    """The caller's X-Request-ID if well-formed; never one carrying a card number, which
    would otherwise reach every log line of the request (redaction masks only delimited runs).
    """
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if not REQUEST_ID_PATTERN.match(value.decode("latin-1")):
                return None
            return None if contains_card_number(value) else value.decode("latin-1")
    return None
