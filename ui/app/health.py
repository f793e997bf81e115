"""Kubernetes probes. Liveness: the process serves HTTP. Readiness: the session store answers
(without it nobody can sign in, so the pod should leave the Service until it is back).

catalog and orders are not readiness checks: if they are down every replica is equally
unready, and the UI's own error pages are the better answer than no answer.
"""

import logging

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from ui.app.services import services

bp = Blueprint("health", __name__, url_prefix="/healthz")
_log = logging.getLogger(__name__)


@bp.get("/live")
def live() -> Response:
    return jsonify(status="ok")


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    try:
        services().sessions.ping()
    except Exception as exc:  # any failure: not ready; the reason goes to the log
        _log.warning("readiness: session store unavailable: %s", exc.__class__.__name__)
        return jsonify(status="unavailable", checks={"sessions": "unavailable"}), 503
    return jsonify(status="ok", checks={"sessions": "ok"}), 200
