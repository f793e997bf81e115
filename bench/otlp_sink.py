"""A local OTLP/HTTP receiver for the tracing-ON runs: accepts what the apps' OTLP exporters
send (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf, optionally gzip), counts requests,
bytes and spans, and answers `GET /stats` with those counts as JSON.

It runs as its own process, so its CPU does not land on the apps or on the bench, and prints
`otlp sink listening port=N` once bound (port 0 picks a free one), the line the bench waits for.
Wire format: https://opentelemetry.io/docs/specs/otlp/#otlphttp (a success is 200 with an
empty `Export*ServiceResponse`, i.e. zero protobuf bytes).
"""

import argparse
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_lock = threading.Lock()
STATS: dict[str, int] = {"requests": 0, "bytes": 0, "spans": 0, "traces_requests": 0}


def count_spans(body: bytes) -> int:
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        spans = count_spans(body) if self.path == "/v1/traces" else 0
        with _lock:
            STATS["requests"] += 1
            STATS["bytes"] += len(body)
            STATS["spans"] += spans
            STATS["traces_requests"] += self.path == "/v1/traces"
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(STATS).encode()
        self.send_response(200 if self.path == "/stats" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otlp_sink")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    print(f"otlp sink listening port={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
