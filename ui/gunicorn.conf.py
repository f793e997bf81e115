# ruff: noqa: N999  (gunicorn.conf.py is gunicorn's conventional name, not an importable module)
"""gunicorn settings of the UI (container and `make dev`).

    gunicorn -c ui/gunicorn.conf.py 'ui.app:create_app()'

Threads, not processes, carry the concurrency: pages mostly wait on catalog/orders over HTTP,
so a few processes with several threads each use 2 cores well and share each process's HTTP
and database pools. Every knob can be overridden with GUNICORN_CMD_ARGS or UI_* variables.
"""

import os

bind = os.environ.get("UI_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("UI_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("UI_THREADS", "8"))
timeout = 30  # a page never legitimately takes this long (API timeouts are a few seconds)
graceful_timeout = 20  # below Kubernetes' 30 s terminationGracePeriodSeconds
keepalive = 5  # longer than nothing, shorter than ingress-nginx's upstream keep-alive
# Heartbeat files in memory, off the (possibly read-only) container disk.
worker_tmp_dir = "/dev/shm"  # noqa: S108
# No gunicorn access log: the app logs one JSON line per request with its route, status,
# duration and trace ids (ui/app/telemetry.py); gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Headers from the ingress are handled by werkzeug's ProxyFix (UI_PROXY_FIX_HOPS), not here.
forwarded_allow_ips = "127.0.0.1"
limit_request_line = 8190
