"""A stand-in for the Durable Task extension's HTTP API, the one the Python SDK's durable client
speaks to (`rpcBaseUrl` in the client binding, `http://127.0.0.1:<port>/durabletask/` under the
host): no Functions host runs here, so the starter and the admin functions are tested through
the SDK's real `DurableOrchestrationClient` over real sockets against this.

It keeps what the documented API promises and the worker relies on
(https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api):
- GET instances/{id}: 200 Completed, 202 Pending/Running, 400 Failed/Terminated, 404 unknown;
  the body is the instance's status (`instanceId`, `runtimeStatus`, `output`, times);
- POST orchestrators/{name}/{id}: 202 with the id; an existing instance is replaced only when it
  is Completed, Failed or Terminated (`overridableExistingInstanceStates: NonRunningStates`,
  host.json), else the start is refused (409);
- DELETE instances/?createdTimeFrom&createdTimeTo&runtimeStatus: 200 `instancesDeleted`, 404
  when none matched.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from dateutil.parser import isoparse

_STATUS_CODES = {
    "Completed": 200,
    "Pending": 202,
    "Running": 202,
    "Failed": 400,
    "Terminated": 400,
}
NON_RUNNING = {"Completed", "Failed", "Terminated"}


@dataclass
class Instance:
    name: str
    input: Any
    runtime_status: str = "Pending"
    output: Any = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def body(self, instance_id: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "instanceId": instance_id,
            "runtimeStatus": self.runtime_status,
            "input": self.input,
            "output": self.output,
            "createdTime": self.created.isoformat(),
            "lastUpdatedTime": self.created.isoformat(),
        }


@dataclass
class DurableHost:
    instances: dict[str, Instance] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)  # instance ids, each accepted start
    refuse_starts: bool = False  # the task hub is down
    traceparents: list[str | None] = field(default_factory=list)  # of each start request
    port: int = 0

    def client_binding(self) -> str:
        """The JSON the host hands a `durableClient` binding (DurableOrchestrationBindings)."""
        base = f"http://127.0.0.1:{self.port}/durabletask/"
        return json.dumps(
            {
                "taskHubName": "tinyshop",
                "creationUrls": {},
                "managementUrls": {},
                "rpcBaseUrl": base,
                "baseUrl": base,
                "requiredQueryStringParameters": "",
            }
        )


def _handler(host: DurableHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _path(self) -> tuple[list[str], dict[str, list[str]]]:
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.split("/") if p]
            assert parts[0] == "durabletask", self.path
            return parts[1:], parse_qs(url.query)

        def do_GET(self) -> None:
            (kind, *rest), _ = self._path()
            instance = host.instances.get(rest[0]) if kind == "instances" and rest else None
            if instance is None:
                self._send(404, "")
                return
            self._send(_STATUS_CODES[instance.runtime_status], instance.body(rest[0]))

        def do_POST(self) -> None:
            (kind, name, instance_id), _ = self._path()
            assert kind == "orchestrators"
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            host.traceparents.append(self.headers.get("traceparent"))
            if host.refuse_starts:
                self._send(500, {"Message": "the task hub is unavailable"})
                return
            existing = host.instances.get(instance_id)
            if existing is not None and existing.runtime_status not in NON_RUNNING:
                self._send(409, {"Message": f"instance {instance_id} already exists"})
                return
            host.instances[instance_id] = Instance(name, json.loads(raw) if raw else None)
            host.starts.append(instance_id)
            self._send(202, {"id": instance_id})

        def do_DELETE(self) -> None:
            (kind, *rest), query = self._path()
            assert kind == "instances", self.path
            assert not rest, self.path
            since = isoparse(query["createdTimeFrom"][0])
            until = isoparse(query["createdTimeTo"][0])
            statuses = set(query["runtimeStatus"][0].split(","))
            doomed = [
                i
                for i, inst in host.instances.items()
                if since <= inst.created <= until and inst.runtime_status in statuses
            ]
            for instance_id in doomed:
                del host.instances[instance_id]
            self._send(200 if doomed else 404, {"instancesDeleted": len(doomed)})

    return Handler


@contextmanager
def durable_host() -> Iterator[DurableHost]:
    host = DurableHost()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(host))
    host.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
