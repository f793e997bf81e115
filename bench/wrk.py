"""HTTP load with wrk (Debian package `wrk`, a C load generator), results read from JSON.

The Python client the bench used before spent more CPU per request than a minimal server and
saturated near 2k req/s; wrk costs a few microseconds per request, so the server is what is
measured. Each run gets a Lua script: the caller's part (which requests to send: `request()`,
`init()`, headers...) followed by a `done()` hook that prints the summary as one JSON line,
which is parsed here (more robust than scraping wrk's human-readable table).
Lua API used: https://github.com/wg/wrk/blob/master/SCRIPTING
"""

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

MARKER = "WRK_JSON "

# wrk calls done() once, after every thread finished; latency is in microseconds.
REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


class WrkError(RuntimeError):
    """wrk failed or printed no summary."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        """Requests that got a non-2xx/3xx status, or connections that broke."""
        return sum(self.errors.values())


def parse(output: str) -> WrkResult:
    """The summary printed by REPORT_LUA's done() hook (the last such line of `output`)."""
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise WrkError(f"wrk printed no summary:\n{output[-2000:]}")
    data = json.loads(lines[-1][len(MARKER) :])
    latency = data["latency_us"]
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=dict(data["errors"]),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        mean_ms=latency["mean"] / 1000,
        max_ms=latency["max"] / 1000,
    )


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for ASCII


def paths_lua(paths: Sequence[str], method: str = "GET") -> str:
    """A request() that cycles through `paths` (each wrk thread from its own random start)."""
    if not paths:
        raise ValueError("at least one path")
    listed = ",\n  ".join(lua_string(p) for p in paths)
    return f"""
local paths = {{
  {listed}
}}
local i = 0
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
  i = math.random(#paths) - 1
end
request = function()
  i = i % #paths + 1
  return wrk.format({lua_string(method)}, paths[i])
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    base_url: str,
    lua: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    timeout: float = 10.0,
) -> WrkResult:
    """Run wrk against `base_url` with `lua` (which requests to send) for `seconds`.

    One wrk thread drives up to ~50k req/s, far above any app here, and leaves the other core
    to the server; `connections` keep-alive connections are the concurrency."""
    if "done" in lua and "done =" in lua:
        raise ValueError("the script must not define done(): the bench's report hook does")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script:
        script.write(lua + "\n" + REPORT_LUA)
        script.flush()
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        argv += [f"--timeout={timeout:g}s", "-s", script.name, base_url]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=seconds + timeout + 30
            )
        except FileNotFoundError as exc:
            raise WrkError("wrk is not installed: bash tools/apt_install.sh wrk wrk") from exc
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return parse(done.stdout)
