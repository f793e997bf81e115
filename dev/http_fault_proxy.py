"""An HTTP proxy that forwards to one upstream, or answers like a throttled Cosmos DB account.

With `throttle` on, every request gets what Cosmos DB sends when the provisioned (or serverless)
throughput is exhausted: status 429, sub-status 3200 and `x-ms-retry-after-ms`, the header the
azure-cosmos SDK waits on before its own throttle retry
(https://learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-request-rate-too-large).
Used by the throttling lab in front of the Cosmos stand-in (plain HTTP)."""

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade"}


class HttpFaultProxy:
    def __init__(self, upstream: tuple[str, int], retry_after_ms: int = 50) -> None:
        self.upstream = upstream
        self.retry_after_ms = retry_after_ms
        self.throttle = False
        self.throttled = 0  # 429s answered so far
        self.forwarded = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    def start(self) -> "HttpFaultProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: the lab narrates
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.throttle:
                    with proxy._lock:
                        proxy.throttled += 1
                    self._answer_throttled()
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                with proxy._lock:
                    proxy.forwarded += 1
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer_throttled(self) -> None:
                data = json.dumps(
                    {"code": "TooManyRequests", "message": "Request rate is large."}
                ).encode()
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-ms-retry-after-ms", str(proxy.retry_after_ms))
                self.send_header("x-ms-substatus", "3200")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            # http.server dispatches on these names (do_<METHOD>).
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _relay  # noqa: N815

        return Handler
