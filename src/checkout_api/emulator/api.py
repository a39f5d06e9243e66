"""The Stripe API surface under /v1 and the pipeline every call goes through.

Order, as on Stripe: injected fault -> rate limiter -> API key -> form parameters ->
idempotency (replay, conflict, or reserve the key) -> processing latency -> endpoint.
Responses carry `Request-Id` and `Stripe-Version`; only 2xx answers are saved under an
Idempotency-Key (Stripe saves nothing when validation fails before execution begins).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from checkout_api.emulator import errors, schema, sessions
from checkout_api.emulator.auth import LIVE_PREFIXES, authenticate, log_headers
from checkout_api.emulator.events import emit
from checkout_api.emulator.forms import FormError, parse_form, parse_pairs
from checkout_api.emulator.pricing import line_items_list, random_id
from checkout_api.emulator.state import EmulatorState, IdempotencyEntry, SessionRecord

JSON = "application/json"
EXPANDABLE = frozenset(
    "line_items customer invoice payment_intent payment_link setup_intent subscription "
    "discounts total_details shipping_cost".split()
)


class Call:
    """What the pipeline learned about one API call, handed to the endpoint."""

    __slots__ = ("api_key", "idempotency_key", "livemode", "params", "request_id", "version")

    def __init__(
        self, api_key: str, livemode: bool, version: str, request_id: str, params: dict[str, Any]
    ) -> None:
        self.api_key = api_key
        self.livemode = livemode
        self.version = version
        self.request_id = request_id
        self.params = params
        self.idempotency_key: str | None = None


Endpoint = Callable[[web.Request, Call], Awaitable[tuple[int, dict[str, Any]]]]


def routes(state: EmulatorState) -> list[web.RouteDef]:
    api = StripeApi(state)
    return [
        web.post("/v1/checkout/sessions", api.wrap(api.create)),
        web.get("/v1/checkout/sessions/{id}", api.wrap(api.retrieve)),
        web.post("/v1/checkout/sessions/{id}/expire", api.wrap(api.expire)),
        web.get("/v1/checkout/sessions/{id}/line_items", api.wrap(api.line_items)),
        web.route("*", "/v1/{tail:.*}", api.wrap(api.unrecognized)),
    ]


class StripeApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def wrap(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, endpoint)

        return handle

    async def _handle(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        state = self.state
        state.stats.requests += 1
        request_id = random_id("req_", 14)
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "headers": log_headers(request.headers),
            "params": None,
            "status": None,
        }
        state.requests.append(entry)
        version = request.headers.get("Stripe-Version") or schema.DEFAULT_API_VERSION
        headers = {"Request-Id": request_id, "Stripe-Version": version}
        idem_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if idem_key:
            headers["Idempotency-Key"] = idem_key
        livemode, delayed = False, False
        reserved: IdempotencyEntry | None = None
        scope = ("", "")
        try:
            fault = state.faults.take()
            if fault == "reset":
                return _reset(request)
            if fault == "hang":
                return await _hang(request, state)
            if fault == "fail":
                raise self._injected_failure()
            if state.limiter is not None and not state.limiter.take():
                raise errors.rate_limited()
            api_key = authenticate(request.headers.get("Authorization", ""), state.config)
            livemode = api_key.startswith(LIVE_PREFIXES)
            params = await _params(request)
            entry["params"] = params
            call = Call(api_key, livemode, version, request_id, params)
            if idem_key:
                if len(idem_key) > 255:
                    raise errors.invalid(None, "Idempotency-Key must be at most 255 characters.")
                call.idempotency_key = idem_key
                scope = (api_key, idem_key)
                saved = state.idempotency.get(scope)
                if saved is not None:
                    _check_replay(saved, request, params, idem_key)
                    delayed = await self._delay()
                    headers["Idempotent-Replayed"] = "true"
                    headers["Original-Request"] = saved.request_id
                    entry["status"] = saved.status
                    return _response(saved.body or b"", saved.status, headers)
                reserved = IdempotencyEntry(request.method, request.path, params)
                state.remember(scope, reserved)
            delayed = await self._delay()
            status, obj = await endpoint(request, call)
        except errors.StripeError as exc:
            if not delayed:
                await self._delay()
            status, obj = exc.status, exc.payload(request_id, livemode)
            headers.update(exc.headers)
        except BaseException:
            if reserved is not None:
                _release(state, scope, reserved)
            raise
        body = orjson.dumps(obj)
        if reserved is not None:
            if 200 <= status < 300:
                reserved.status, reserved.body, reserved.request_id = status, body, request_id
            else:
                _release(state, scope, reserved)
        entry["status"] = status
        return _response(body, status, headers)

    async def _delay(self) -> bool:
        ms = self.state.config.latency_ms + self.state.faults.latency_ms
        if ms > 0:
            await asyncio.sleep(ms / 1000)
        return True

    def _injected_failure(self) -> errors.StripeError:
        faults = self.state.faults
        return errors.StripeError(
            faults.status,
            faults.message,
            type=faults.type,
            code=faults.code,
            param=faults.param,
            headers=dict(faults.headers),
        )

    # ---- endpoints -------------------------------------------------------------------

    async def create(self, request: web.Request, call: Call) -> tuple[int, dict[str, Any]]:
        _check_expand(call.params.get("expand"))
        record = sessions.create(
            call.params,
            prices=self.state.config.prices,
            api_version=call.version,
            livemode=call.livemode,
        )
        self.state.sessions[record.fields["id"]] = record
        self.state.stats.creates += 1
        return 200, _render(record, call.params.get("expand"))

    async def retrieve(self, request: web.Request, call: Call) -> tuple[int, dict[str, Any]]:
        schema.check(call.params, schema.RETRIEVE_FIELDS)
        _check_expand(call.params.get("expand"))
        return 200, _render(self._find(request, call), call.params.get("expand"))

    async def expire(self, request: web.Request, call: Call) -> tuple[int, dict[str, Any]]:
        schema.check(call.params, schema.EXPIRE_FIELDS)
        _check_expand(call.params.get("expand"))
        record = self._find(request, call)
        sessions.expire(record)
        await emit(
            self.state,
            "checkout.session.expired",
            record,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
            wait=False,
        )
        return 200, _render(record, call.params.get("expand"))

    async def line_items(self, request: web.Request, call: Call) -> tuple[int, dict[str, Any]]:
        schema.check(call.params, schema.LIST_LINE_ITEMS_FIELDS)
        return 200, line_items_list(self._find(request, call))

    async def unrecognized(self, request: web.Request, call: Call) -> tuple[int, dict[str, Any]]:
        raise errors.StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    def _find(self, request: web.Request, call: Call) -> SessionRecord:
        session_id = request.match_info["id"]
        record = self.state.sessions.get(session_id)
        if record is None:
            raise errors.resource_missing("checkout.session", session_id, "session", 404)
        if record.fields["livemode"] != call.livemode:
            used, exists = ("live", "test") if call.livemode else ("test", "live")
            raise errors.StripeError(
                404,
                f"No such checkout.session: '{session_id}'; a similar object exists in {exists} "
                f"mode, but a {used} mode key was used to make this request.",
                code="resource_missing",
                param="session",
            )
        return record


def _response(body: bytes, status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(body=body, status=status, headers=headers, content_type=JSON)


async def _params(request: web.Request) -> dict[str, Any]:
    try:
        if request.method == "POST":
            return parse_form(await request.text())
        return parse_pairs(request.query.items())
    except FormError as exc:
        raise errors.invalid(exc.param, exc.message) from None


def _check_replay(
    saved: IdempotencyEntry, request: web.Request, params: dict[str, Any], key: str
) -> None:
    if saved.body is None:
        raise errors.idempotency_in_use(key)
    if saved.method != request.method or saved.path != request.path:
        endpoint = f"'{saved.method} {saved.path}' vs '{request.method} {request.path}'"
        raise errors.idempotency_mismatch(key, endpoint=endpoint)
    if saved.params != params:
        raise errors.idempotency_mismatch(key)


def _release(state: EmulatorState, scope: tuple[str, str], entry: IdempotencyEntry) -> None:
    """Forget a reserved key (unless a reset or a newer request already replaced it)."""
    if state.idempotency.get(scope) is entry:
        del state.idempotency[scope]


def _check_expand(expand: Any) -> None:
    for path in expand or ():
        if path.split(".", 1)[0] not in EXPANDABLE:
            raise errors.invalid("expand", f"This property cannot be expanded ({path}).")


def _render(record: SessionRecord, expand: Any) -> dict[str, Any]:
    obj = sessions.session_object(record)
    if expand and any(path.split(".", 1)[0] == "line_items" for path in expand):
        obj["line_items"] = line_items_list(record)
    return obj


def _reset(request: web.Request) -> web.Response:
    """Drop the connection without answering, as a reset or a crashed proxy would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


async def _hang(request: web.Request, state: EmulatorState) -> web.Response:
    """Answer nothing until the client gives up or the emulator shuts down."""
    while not state.released.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.05)
    return _reset(request)
