"""Benchmark: checkout-api next to Stripe's Flask quickstart, same scenarios, same invocation.

    .venv/bin/python bench/run.py                    # scenarios s,a-e, 20 s each, median of 3
    .venv/bin/python bench/run.py --quick            # smoke: 3 s per run, 1 repeat
    .venv/bin/python bench/run.py --scenario a,b --repeat 5 --json out.json
    .venv/bin/python bench/run.py --targets gunicorn,flask-dev   # baselines only

Per scenario: one Stripe stand-in (bench/standin.py) with the scenario's latency, every target
started (service with --workers N; quickstart under gunicorn gthread with N workers; quickstart
under Flask's app.run, one process), a warm-up run each, then `--repeat` measured wrk runs per
target in alternating order. Figures: wrk's 2xx rate and latency percentiles, errors, the
server tree's CPU (utime+stime from /proc, all worker pids) per request, and stand-in calls per
request. Loopback only; every process started is stopped (process groups) before exit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import client, procs, report, scenarios, targets, wrk

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--scenario",
        default=",".join(scenarios.SCENARIOS),
        help="comma list of s,a,b,c,d,e (default: all)",
    )
    p.add_argument(
        "--targets",
        default=",".join(targets.DEFAULT_TARGETS),
        help="comma list of service,gunicorn,flask-dev,lean,lean-sdk "
        f"(default: {','.join(targets.DEFAULT_TARGETS)})",
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured warm-up")
    p.add_argument("--repeat", type=int, default=3, help="measured runs per target (median)")
    p.add_argument("--quick", action="store_true", help="smoke: 3 s runs, 1 s warm-up, 1 repeat")
    p.add_argument("--workers", type=int, default=2, help="worker processes, service and gunicorn")
    p.add_argument("--baseline-threads", type=int, default=32, help="gunicorn gthread threads")
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the service (repeatable), e.g. "
        "STRIPE_MAX_REQUESTS_PER_SECOND=0",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="service DATABASE_URL (default: a fresh SQLite file per scenario)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write results here (default: bench/results/bench-<utc>.json)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.repeat = 3.0, 1.0, 1
    args.scenario = [s.strip() for s in args.scenario.split(",") if s.strip()]
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [s for s in args.scenario if s not in scenarios.SCENARIOS]
    unknown += [t for t in args.targets if t not in targets.TARGETS]
    bad_env = [e for e in args.service_env if "=" not in e]
    args.service_env = dict(e.split("=", 1) for e in args.service_env if "=" in e)
    if args.database_url:
        args.service_env["DATABASE_URL"] = args.database_url
    if bad_env or unknown or args.repeat < 1 or args.duration < 1 or args.workers < 1:
        p.error(f"bad selection or value: {unknown or bad_env or 'repeat/duration/workers >= 1'}")
    return args


def scrub_proxies() -> None:
    """Loopback only: no proxy variable may route the harness's requests off the machine."""
    for key in list(os.environ):
        if key.lower() in {"http_proxy", "https_proxy", "all_proxy", "ftp_proxy"}:
            del os.environ[key]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def machine_info(wrk_path: str) -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    import stripe

    def git(*args: str) -> str:
        try:  # read-only queries
            argv = ["git", "--no-optional-locks", "-C", str(targets.REPO), *args]
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "git_dirty_files": len(git("status", "--porcelain").splitlines()),
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": wrk.version(wrk_path),
        "stripe_sdk": stripe.VERSION,
        "loadavg_start": os.getloadavg(),
    }


def settle(pids: list[int], max_wait: float = 20.0) -> None:
    """Wait (bounded) until the given trees are idle, so one run's backlog can't bleed into
    the next target's CPU figures."""
    deadline = time.monotonic() + max_wait
    before = sum(procs.tree_cpu_seconds(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(procs.tree_cpu_seconds(p) for p in pids)
        if now - before < 0.03:
            return
        before = now


def standin_requests(url: str) -> float:
    status, body = client.call("GET", f"{url}/_standin/stats")
    value = body.get("requests", 0)
    return float(value) if status == 200 and isinstance(value, int | float) else float("nan")


def measure(
    work: scenarios.Workload,
    server_pid: int,
    standin: procs.Proc,
    standin_url: str,
    duration: float,
    wrk_path: str,
) -> dict[str, Any]:
    script = work.script(duration)
    is_standin = work.target is None
    calls0 = standin_requests(standin_url)
    cpu0, sin0 = procs.tree_cpu_seconds(server_pid), procs.tree_cpu_seconds(standin.pid)
    raw = wrk.run(wrk_path, work.url(), script, work.scenario.connections, duration)
    cpu1, sin1 = procs.tree_cpu_seconds(server_pid), procs.tree_cpu_seconds(standin.pid)
    calls1 = standin_requests(standin_url)
    return report.derive(
        raw,
        cpu1 - cpu0,
        None if is_standin else sin1 - sin0,
        None if is_standin else calls1 - calls0,
    )


def run_scenario(
    sc: scenarios.Scenario, args: argparse.Namespace, tmp: Path, wrk_path: str
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "title": sc.title,
        "latency_ms": sc.latency_ms,
        "connections": sc.connections,
        "targets": {},
    }
    standin_port = procs.free_port()
    standin_url = f"http://127.0.0.1:{standin_port}"
    standin = targets.start_standin(standin_port, sc.latency_ms, tmp)
    started: dict[str, procs.Proc] = {}
    works: dict[str, scenarios.Workload] = {}
    try:
        names = (
            ["standin"]
            if sc.kind == "standin"
            else [n for n in args.targets if sc.kind in targets.TARGETS[n].kinds]
        )
        for name in names:
            try:
                if name == "standin":
                    works[name] = scenarios.Workload(sc, None, standin_url, standin_url, tmp)
                    started[name] = standin
                else:
                    port = procs.free_port()
                    started[name] = targets.start_target(
                        targets.TARGETS[name],
                        port,
                        standin_url,
                        args.workers,
                        args.baseline_threads,
                        tmp,
                        args.service_env,
                    )
                    works[name] = scenarios.Workload(
                        sc, targets.TARGETS[name], f"http://127.0.0.1:{port}", standin_url, tmp
                    )
                works[name].setup()
                wrk.run(
                    wrk_path,
                    works[name].url(),
                    works[name].script(args.warmup),
                    sc.connections,
                    args.warmup,
                )
            except Exception as exc:  # record, keep measuring the others
                result["targets"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  [{sc.key}] {name}: set-up failed: {exc}", flush=True)
                works.pop(name, None)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in works}
        all_pids = [p.pid for p in started.values()] + [standin.pid]
        for rep in range(args.repeat):
            order = list(works) if rep % 2 == 0 else list(reversed(works))
            for name in order:
                settle(all_pids)
                try:
                    fig = measure(
                        works[name],
                        started[name].pid,
                        standin,
                        standin_url,
                        args.duration,
                        wrk_path,
                    )
                except Exception as exc:
                    result["targets"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                    print(f"  [{sc.key}] {name}: run failed: {exc}", flush=True)
                    continue
                runs[name].append(fig)
                print(
                    f"  [{sc.key}] {name:9s} run {rep + 1}/{args.repeat}: "
                    f"2xx {fig['ok_rps']:.0f}/s p50 {fig['p50_ms']:.1f} ms "
                    f"p99 {fig['p99_ms']:.1f} ms errors {fig['errors']} "
                    f"cpu {fig['cpu_ms_per_req'] or 0:.2f} ms/req",
                    flush=True,
                )
        for name, figs in runs.items():
            if figs and "error" not in result["targets"].get(name, {}):
                result["targets"][name] = {"runs": figs, "median": report.medians(figs)}
    finally:
        for name, proc in started.items():
            if name != "standin":
                proc.stop()
        standin.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scrub_proxies()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run `finally` blocks: stop all
    wrk_path = wrk.ensure_wrk()
    if "service" in args.targets and any(s != "s" for s in args.scenario):
        why = targets.service_available()
        if why:
            print(
                f"bench: cannot start the service: {why}.\n"
                "bench: to measure the baselines alone: --targets gunicorn,flask-dev",
                file=sys.stderr,
            )
            return 2
    out: dict[str, Any] = {
        "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(wrk_path),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "scenarios": {},
    }
    print(
        f"bench: {out['machine']['nproc']} CPUs ({out['machine']['cpu_model']}), "
        f"Python {out['machine']['python']}, {out['machine']['wrk']}",
        flush=True,
    )
    labels = {
        "service": f"service ({args.workers} workers)",
        "gunicorn": f"quickstart gunicorn {args.workers}x{args.baseline_threads} gthread",
        "flask-dev": "quickstart app.run (1 proc)",
        "lean": f"lean aiohttp proxy ({args.workers} procs)",
        "lean-sdk": f"lean proxy via the SDK ({args.workers} procs)",
        "standin": "stand-in (1 proc)",
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="checkout-bench-") as tmp_name:
        for key in args.scenario:
            sc = scenarios.SCENARIOS[key]
            print(f"\n[{key}] {sc.title}: {args.duration:g} s x {args.repeat}", flush=True)
            try:
                out["scenarios"][key] = res = run_scenario(sc, args, Path(tmp_name), wrk_path)
            except Exception:
                traceback.print_exc()
                out["scenarios"][key] = {"title": sc.title, "error": traceback.format_exc()}
                failed = True
                continue
            failed |= any("error" in t for t in res["targets"].values())
            rows = {n: t["median"] for n, t in res["targets"].items() if "median" in t}
            print(report.table(f"[{key}] medians", rows, labels), flush=True)
    out["machine"]["loadavg_end"] = os.getloadavg()
    path = args.json or RESULTS / f"bench-{out['started_utc'].replace(':', '')[:17]}Z.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"\nbench: results in {path}" + ("  (some targets FAILED, see above)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
