"""Small loopback HTTP client for set-up steps (warming session ids, stand-in controls)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    method: str, url: str, body: object | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, object]]:
    """One JSON request; returns (status, parsed body or {})."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"text": raw[:200].decode(errors="replace")}
    return status, parsed if isinstance(parsed, dict) else {"value": parsed}


def create_sessions(
    url: str, ids: list[str], workers: int = 50
) -> list[tuple[int, dict[str, object]]]:
    """POST {"session_id": id} for each id, `workers` at a time; answers in the ids' order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda sid: call("POST", url, {"session_id": sid}), ids))


def stripe_id(answer: dict[str, object]) -> str | None:
    """The Checkout Session id in a create answer: `id`, else the client secret's prefix."""
    sid = answer.get("id")
    if isinstance(sid, str) and sid.startswith("cs_"):
        return sid
    secret = answer.get("clientSecret") or answer.get("client_secret")
    if isinstance(secret, str) and "_secret_" in secret:
        return secret.split("_secret_", 1)[0]
    return None
