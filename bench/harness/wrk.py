"""wrk: make sure it is installed, write a run's Lua script, run it and parse its summary.

Each script is `BENCH = {...constants...}` + `bench/lua/common.lua` + one scenario script;
common.lua's done() prints a `BENCH_JSON {...}` line that `run` parses.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"
THREADS = 1
TIMEOUT = "5s"


def ensure_wrk() -> str:
    """Path of wrk; installs Debian's package when missing and running as root, else exits."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit(
            "bench: wrk is not installed; install it with `apt-get install -y wrk` "
            "(as root), then run again."
        )
    print("bench: wrk missing, installing it with apt-get (Debian package `wrk`)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        try:
            subprocess.run(argv, env=env, check=True, timeout=600, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            sys.exit(f"bench: `{' '.join(argv)}` failed ({exc}); install wrk and run again.")
    found = shutil.which("wrk")
    if not found:
        sys.exit("bench: wrk still not found after apt-get install -y wrk.")
    return found


def version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def lua_value(value: object) -> str:
    """A Python constant as a Lua literal (str, int, float, list, dict with str keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = (
            chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in value.encode()
        )
        return '"' + "".join(escaped) + '"'
    if isinstance(value, list):
        return "{" + ",".join(lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"[{lua_value(k)}]={lua_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def write_script(path: Path, scenario_script: str, constants: dict[str, object]) -> Path:
    """Write BENCH constants + common.lua + bench/lua/<scenario_script> to `path`."""
    constants = {"nthreads": THREADS, **constants}
    text = (
        f"BENCH = {lua_value(constants)}\n"
        + (LUA_DIR / "common.lua").read_text()
        + (LUA_DIR / scenario_script).read_text()
    )
    path.write_text(text)
    return path


def run(wrk: str, url: str, script: Path, connections: int, duration: float) -> dict[str, object]:
    """Run wrk once; return the parsed BENCH_JSON summary plus wrk's own CPU seconds."""
    argv = [
        wrk,
        "-t",
        str(THREADS),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        TIMEOUT,
        "--latency",
        "-s",
        str(script),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + 60, start_new_session=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = re.search(r"^BENCH_JSON (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise RuntimeError(
            f"wrk failed ({proc.returncode}): {proc.stderr.strip()}\n{proc.stdout.strip()[-2000:]}"
        )
    result: dict[str, object] = json.loads(match.group(1))
    result["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result
