"""The benchmark scenarios and the per-run workload each one sends (a wrk Lua script).

s  stand-in ceiling: wrk straight at the stand-in's POST /v1/checkout/sessions, latency 0
a  new sessions, upstream latency 300 ms, 100 connections (I/O-bound concurrency)
b  new sessions, upstream latency 0, 50 connections (CPU-bound: cost per request)
c  new sessions, upstream latency 300 ms, 1000 connections (overload behaviour)
d  reuse storm: 200 already-created session ids requested again and again, latency 300 ms
e  webhook ingestion: signed checkout.session.completed events, each a new evt id
"""

from __future__ import annotations

import math
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness import client, stripe_objects, wrk
from harness.targets import PRICE, WEBHOOK_SECRET, Target

WARM_IDS = 200


@dataclass(frozen=True)
class Scenario:
    key: str
    kind: str  # standin | new | reuse | webhook
    latency_ms: float
    connections: int
    title: str


SCENARIOS = {
    s.key: s
    for s in (
        Scenario("s", "standin", 0, 50, "stand-in ceiling (wrk -> stand-in create, latency 0)"),
        Scenario("a", "new", 300, 100, "new sessions, upstream 300 ms, 100 connections"),
        Scenario("b", "new", 0, 50, "new sessions, upstream 0 ms, 50 connections (CPU-bound)"),
        Scenario(
            "c", "new", 300, 1000, "new sessions, upstream 300 ms, 1000 connections (overload)"
        ),
        Scenario(
            "d",
            "reuse",
            300,
            100,
            f"reuse storm, {WARM_IDS} known ids, upstream 300 ms, 100 connections",
        ),
        Scenario("e", "webhook", 300, 100, "webhook ingestion, signed events, 100 connections"),
    )
}

STANDIN_FORM = urllib.parse.urlencode(
    {
        "line_items[0][price]": PRICE,
        "line_items[0][quantity]": "1",
        "mode": "payment",
        "return_url": "http://127.0.0.1/return?session_id={CHECKOUT_SESSION_ID}",
        "ui_mode": "embedded_page",
    }
)


class SetupError(RuntimeError):
    """A target did not answer the warm-up requests a scenario needs."""


class Workload:
    """What one scenario sends to one target: set up once, then a fresh script per run."""

    def __init__(
        self, scenario: Scenario, target: Target | None, base_url: str, standin_url: str, tmp: Path
    ) -> None:
        self.scenario, self.target = scenario, target
        self.base_url, self.standin_url, self.tmp = base_url, standin_url, tmp
        self.name = target.name if target else "standin"
        self.ids: list[str] = []
        self.sessions: list[tuple[str, str]] = []  # (stripe id, caller session id)

    def _warm(self, prefix: str) -> list[tuple[str, dict[str, object]]]:
        assert self.target is not None
        ids = [f"{prefix}_{secrets.token_hex(4)}_{i}" for i in range(WARM_IDS)]
        answers = client.create_sessions(self.base_url + self.target.create_path, ids)
        bad = [
            (sid, st, body)
            for sid, (st, body) in zip(ids, answers, strict=True)
            if not 200 <= st < 300
        ]
        if bad:
            raise SetupError(
                f"{self.name}: {len(bad)}/{len(ids)} warm-up creates failed, first: {bad[0]}"
            )
        return [(sid, body) for sid, (_, body) in zip(ids, answers, strict=True)]

    def setup(self) -> None:
        """Create the sessions that reuse and webhook runs refer to."""
        if self.scenario.kind == "reuse":
            self.ids = [sid for sid, _ in self._warm("reuse")]
        elif self.scenario.kind == "webhook":
            for ref, body in self._warm("wh"):
                stripe_id = client.stripe_id(body)
                if not stripe_id:
                    raise SetupError(f"{self.name}: no session id in create answer {body}")
                status, _ = client.call(
                    "POST", f"{self.standin_url}/_standin/sessions/{stripe_id}/complete"
                )
                if status != 200:
                    raise SetupError(f"stand-in could not complete {stripe_id}: {status}")
                self.sessions.append((stripe_id, ref))

    def url(self) -> str:
        return self.standin_url if self.target is None else self.base_url

    def script(self, duration: float) -> Path:
        """A fresh Lua script (unique ids / event ids) for one wrk run of `duration` seconds."""
        tag = secrets.token_hex(4)
        path = self.tmp / f"{self.scenario.key}-{self.name}-{tag}.lua"
        kind = self.scenario.kind
        if kind == "standin":
            return wrk.write_script(
                path,
                "standin_create.lua",
                {
                    "path": "/v1/checkout/sessions",
                    "prefix": f"ceil_{tag}",
                    "form": STANDIN_FORM,
                    "api_version": stripe_objects.API_VERSION,
                },
            )
        assert self.target is not None
        if kind == "new":
            return wrk.write_script(
                path, "new_session.lua", {"path": self.target.create_path, "prefix": f"new_{tag}"}
            )
        if kind == "reuse":
            return wrk.write_script(
                path, "reuse.lua", {"path": self.target.create_path, "ids": self.ids}
            )
        return self._webhook_script(path, tag, duration)

    def _webhook_script(self, path: Path, tag: str, duration: float) -> Path:
        """Pre-sign enough unique events for the run (about 5000/s, bounded)."""
        count = min(150_000, max(2_000, math.ceil(duration * 5_000)))
        chunks, slots = stripe_objects.event_template(tag)
        stamp = int(time.time())
        events = path.with_suffix(".events")
        with events.open("w") as out:
            for n in range(count):
                stripe_id, ref = self.sessions[n % len(self.sessions)]
                values = {"n": str(n), "sid": stripe_id, "ref": ref}
                body = stripe_objects.event_body(chunks, slots, values)
                sig = stripe_objects.signature(WEBHOOK_SECRET, stamp, body)
                out.write(f"{n}\t{sig}\t{stripe_id}\t{ref}\n")
        assert self.target is not None
        return wrk.write_script(
            path,
            "webhook.lua",
            {
                "path": self.target.webhook_path,
                "events_file": str(events),
                "t": str(stamp),
                "chunks": chunks,
                "slots": slots,
            },
        )
