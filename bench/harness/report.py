"""Figures per run, medians over repeats, the side-by-side table and the ratios."""

from __future__ import annotations

import statistics
from typing import Any

COLUMNS = (  # key, header, format
    ("ok_rps", "2xx req/s", "{:.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("errors", "errors", "{:.0f}"),
    ("cpu_ms_per_req", "CPU ms/req", "{:.2f}"),
    ("upstream_per_req", "upstream/req", "{:.2f}"),
)


def derive(
    raw: dict[str, Any],
    server_cpu_s: float,
    standin_cpu_s: float | None,
    upstream_calls: float | None,
) -> dict[str, Any]:
    """The figures of one wrk run, with the CPU the server tree and the stand-in used."""
    seconds = raw["duration_us"] / 1e6
    requests = raw["requests"]
    errs, lat = raw["errors"], raw["latency_us"]
    socket_errors = errs["connect"] + errs["read"] + errs["write"]

    def per_req(value: float | None, scale: float = 1000.0) -> float | None:
        return None if value is None or not requests else value * scale / requests

    return {
        "seconds": seconds,
        "requests": requests,
        "rps": requests / seconds,
        "ok_rps": raw["ok"] / seconds,
        "p50_ms": lat["p50"] / 1000,
        "p95_ms": lat["p95"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000,
        "non2xx": raw["non2xx"],
        "socket_errors": socket_errors,
        "timeouts": errs["timeout"],
        "errors": raw["non2xx"] + socket_errors + errs["timeout"],
        "cpu_ms_per_req": per_req(server_cpu_s),
        "standin_cpu_ms_per_req": per_req(standin_cpu_s),
        "wrk_cpu_ms_per_req": per_req(raw["wrk_cpu_s"]),
        "upstream_per_req": per_req(upstream_calls, 1.0),
        "statuses": raw["statuses"],
        "event_replays": raw["dups"],
        # requests written but not answered when wrk stopped (not in `errors`)
        "unanswered": max(0, raw["sent"] - requests),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure median over runs (numbers only; None when a figure is missing)."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
        if isinstance(value, int | float) or value is None:
            out[key] = statistics.median(values) if values else None
    statuses: dict[str, int] = {}
    for run in runs:
        for code, count in run["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    out["statuses_total"] = statuses
    return out


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def table(title: str, rows: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    """A plain-text table of medians, one row per target, then service/baseline ratios."""
    head = ["target"] + [h for _, h, _ in COLUMNS]
    body = [
        [labels.get(name, name)] + [_cell(m.get(k), f) for k, _, f in COLUMNS]
        for name, m in rows.items()
    ]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [
        title,
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        ),
    ]
    lines += [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in body
    ]
    lines += ratio_lines(rows)
    return "\n".join(lines)


def _ratio(a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return "n/a"
    return f"x{a / b:.2f}"


def ratios(service: dict[str, Any], baseline: dict[str, Any]) -> dict[str, str]:
    return {
        key: _ratio(service.get(key), baseline.get(key))
        for key in ("ok_rps", "p50_ms", "p99_ms", "cpu_ms_per_req")
    }


def ratio_lines(rows: dict[str, dict[str, Any]]) -> list[str]:
    if "service" not in rows:
        return []
    out = []
    for name, m in rows.items():
        if name != "service":
            r = ratios(rows["service"], m)
            out.append(
                f"  service / {name}: 2xx req/s {r['ok_rps']}, p50 {r['p50_ms']}, "
                f"p99 {r['p99_ms']}, CPU/req {r['cpu_ms_per_req']}"
            )
    return out
