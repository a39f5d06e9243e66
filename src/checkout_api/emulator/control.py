"""The test/control API under /_emulator/ (no auth, JSON in and out).

    POST /_emulator/reset                                    forget everything
    GET  /_emulator/requests | /stats | /events              what happened
    GET|POST /_emulator/faults                               read / inject failures
    GET  /_emulator/checkout/sessions                        every session, as Stripe shows it
    POST /_emulator/checkout/sessions/{id}/complete          customer pays -> completed event
    POST /_emulator/checkout/sessions/{id}/async_payment     -> async_payment_succeeded/_failed
    POST /_emulator/checkout/sessions/{id}/expire            -> expired event

Event calls answer `{"event", "payload", "signature"}` (+ `"delivery_status"` when delivered).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from checkout_api.emulator import sessions
from checkout_api.emulator.errors import StripeError
from checkout_api.emulator.events import emit
from checkout_api.emulator.state import EmulatorState, SessionRecord

FAULT_KEYS = frozenset(
    "latency_ms fail_next status type code param message headers hang_next reset_next "
    "rate_limit_per_second".split()
)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def routes(state: EmulatorState) -> list[web.RouteDef]:
    control = Control(state)
    base = "/_emulator"
    session = base + "/checkout/sessions/{id}"
    return [
        web.post(base + "/reset", control.wrap(control.reset)),
        web.get(base + "/requests", control.wrap(control.requests)),
        web.get(base + "/stats", control.wrap(control.stats)),
        web.get(base + "/events", control.wrap(control.events)),
        web.get(base + "/faults", control.wrap(control.faults)),
        web.post(base + "/faults", control.wrap(control.set_faults)),
        web.get(base + "/checkout/sessions", control.wrap(control.list_sessions)),
        web.post(session + "/complete", control.wrap(control.complete)),
        web.post(session + "/async_payment", control.wrap(control.async_payment)),
        web.post(session + "/expire", control.wrap(control.expire)),
    ]


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


class Control:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def wrap(self, handler: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await _body(request)
                return _json(await handler(request, body))
            except ControlError as exc:
                error = {"type": "invalid_request_error", "message": exc.message}
                return _json({"error": error}, exc.status)

        return handle

    async def reset(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        self.state.reset()
        return {"reset": True}

    async def requests(self, request: web.Request, body: dict[str, Any]) -> list[Any]:
        return list(self.state.requests)

    async def stats(self, request: web.Request, body: dict[str, Any]) -> dict[str, int]:
        stats = self.state.stats
        return {
            "requests": stats.requests,
            "creates": stats.creates,
            "connections_opened": stats.connections_opened,
        }

    async def events(self, request: web.Request, body: dict[str, Any]) -> list[Any]:
        return self.state.events

    async def faults(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        faults = self.state.faults
        limiter = self.state.limiter
        return {
            **{name: getattr(faults, name) for name in FAULT_KEYS - {"rate_limit_per_second"}},
            "rate_limit_per_second": limiter.rate if limiter else None,
        }

    async def set_faults(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - FAULT_KEYS
        if unknown:
            raise ControlError(400, f"Unknown fault field(s): {', '.join(sorted(unknown))}")
        faults = self.state.faults
        try:
            for name in ("latency_ms",):
                if name in body:
                    faults.latency_ms = float(body[name] or 0)
            for name in ("fail_next", "hang_next", "reset_next", "status"):
                if name in body:
                    setattr(faults, name, int(body[name]))
        except (TypeError, ValueError) as exc:
            raise ControlError(400, f"Invalid fault value: {exc}") from None
        for name in ("type", "code", "param", "message"):
            if name in body:
                setattr(faults, name, body[name])
        if "headers" in body:
            faults.headers = {str(k): str(v) for k, v in (body["headers"] or {}).items()}
        if "rate_limit_per_second" in body:
            self.state.set_rate_limit(body["rate_limit_per_second"])
        return await self.faults(request, body)

    async def list_sessions(self, request: web.Request, body: dict[str, Any]) -> list[Any]:
        return [sessions.session_object(r) for r in self.state.sessions.values()]

    async def complete(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        record = self._find(request)
        payment_status = body.get("payment_status", "paid")
        if payment_status not in ("paid", "unpaid", "no_payment_required"):
            raise ControlError(400, "payment_status must be paid, unpaid or no_payment_required")
        email = body.get("customer_email", "jenny.rosen@example.com")
        self._apply(sessions.complete, record, email=email, payment_status=payment_status)
        return await self._emit("checkout.session.completed", record, body)

    async def async_payment(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        record = self._find(request)
        succeeded = body.get("succeeded", True)
        if not isinstance(succeeded, bool):
            raise ControlError(400, "succeeded must be true or false")
        self._apply(sessions.settle_async_payment, record, succeeded=succeeded)
        outcome = "succeeded" if succeeded else "failed"
        return await self._emit(f"checkout.session.async_payment_{outcome}", record, body)

    async def expire(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        record = self._find(request)
        self._apply(sessions.expire, record)
        return await self._emit("checkout.session.expired", record, body)

    def _find(self, request: web.Request) -> SessionRecord:
        session_id = request.match_info["id"]
        record = self.state.sessions.get(session_id)
        if record is None:
            raise ControlError(404, f"No such checkout.session: '{session_id}'")
        return record

    @staticmethod
    def _apply(change: Any, record: SessionRecord, **kwargs: Any) -> None:
        try:
            change(record, **kwargs)
        except StripeError as exc:
            raise ControlError(exc.status, exc.message) from None

    async def _emit(self, kind: str, record: SessionRecord, body: dict[str, Any]) -> dict[str, Any]:
        return await emit(
            self.state,
            kind,
            record,
            secret=body.get("webhook_secret"),
            deliver_to=body.get("deliver_to"),
        )


async def _body(request: web.Request) -> dict[str, Any]:
    if request.method != "POST" or not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ControlError(400, "Body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "Body must be a JSON object")
    return body
