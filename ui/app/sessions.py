"""Server-side sessions in Postgres, so any UI replica serves any shopper.

MSAL's token cache (ID, access and refresh tokens) is several KB: too big for a 4 KB cookie, and
tokens should not travel to the browser at all. The cookie holds only an opaque 256-bit random
id; the table stores its SHA-256 (a leaked table or backup holds no usable cookie) with the
session data as JSON (never pickle: the database is not trusted to run code in the UI) and an
expiry that slides while the shopper is active.

Anonymous visitors get no row: a session is written only once something is stored in it (the
sign-in flow, a CSRF token, a flash message). A shopper whose session can't be read, because
the store is down, is served as anonymous (browsing works) with `session.unavailable` set, so
sign-in-only pages can say why instead of pretending the shopper signed out.
"""

import hashlib
import logging
import secrets
import threading
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout
from werkzeug.datastructures import CallbackDict

_log = logging.getLogger(__name__)

_SID_BYTES = 32
_SID_LENGTH = 43  # len(secrets.token_urlsafe(32))
_TOUCH_AFTER = timedelta(minutes=5)  # extend an unmodified session's expiry at most this often
_PURGE_EVERY = 300.0  # seconds between purges of expired rows, per process

StoreErrors = (psycopg.OperationalError, PoolTimeout)


class SessionStoreUnavailable(Exception):
    """The session database did not answer."""


def _hash(sid: str) -> bytes:
    return hashlib.sha256(sid.encode()).digest()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """A dict that notes changes; `sid` is None until the session is first saved."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        sid: str | None = None,
        updated_at: datetime | None = None,
        *,
        unavailable: bool = False,
    ) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.updated_at = updated_at
        self.unavailable = unavailable
        self.modified = False
        self.rotate = False

    def regenerate(self) -> None:
        """Issue a new id on save (after sign-in: a planted pre-login id becomes worthless)."""
        self.rotate = True
        self.modified = True


class SessionStore:
    """The `ui_sessions` table behind a small per-process connection pool."""

    def __init__(self, database_url: str, max_size: int, timeout: float) -> None:
        self._pool = ConnectionPool(
            database_url,
            min_size=0,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"connect_timeout": max(1, int(timeout)), "autocommit": True},
            name="ui-sessions",
        )
        self._opened = False
        self._lock = threading.Lock()
        self._last_purge = 0.0

    def _connection(self) -> AbstractContextManager[psycopg.Connection]:
        with self._lock:
            if not self._opened:  # gunicorn forks workers: open the pool in the worker
                self._pool.open(wait=False)
                self._opened = True
        return self._pool.connection()

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._pool.close()
                self._opened = False

    def load(self, sid: str) -> tuple[dict[str, Any], datetime] | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT data, updated_at FROM ui_sessions "
                "WHERE sid_hash = %s AND expires_at > now()",
                (_hash(sid),),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def create(self, sid: str, data: dict[str, Any], lifetime: timedelta) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO ui_sessions (sid_hash, data, expires_at) VALUES (%s, %s, now() + %s)",
                (_hash(sid), Jsonb(data), lifetime),
            )
        self._maybe_purge()

    def update(self, sid: str, data: dict[str, Any], lifetime: timedelta) -> bool:
        """Store a session that exists; False when it does not (any more): signed out or
        expired while the request ran, and never brought back by it."""
        with self._connection() as conn:
            updated = conn.execute(
                "UPDATE ui_sessions SET data = %s, updated_at = now(), expires_at = now() + %s "
                "WHERE sid_hash = %s AND expires_at > now()",
                (Jsonb(data), lifetime, _hash(sid)),
            ).rowcount
        return updated == 1

    def touch(self, sid: str, lifetime: timedelta) -> None:
        with self._connection() as conn:
            conn.execute(
                "UPDATE ui_sessions SET updated_at = now(), expires_at = now() + %s "
                "WHERE sid_hash = %s",
                (lifetime, _hash(sid)),
            )

    def delete(self, sid: str) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM ui_sessions WHERE sid_hash = %s", (_hash(sid),))

    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("SELECT 1 FROM ui_sessions LIMIT 1")

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        with self._connection() as conn:
            conn.execute(
                "DELETE FROM ui_sessions WHERE sid_hash IN (SELECT sid_hash FROM ui_sessions "
                "WHERE expires_at < now() LIMIT 1000)"
            )


class PostgresSessionInterface(SessionInterface):
    """Flask's session, kept in `SessionStore`; the cookie carries only the random id."""

    def __init__(self, store: SessionStore, lifetime: timedelta) -> None:
        self.store = store
        self.lifetime = lifetime

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) != _SID_LENGTH:
            return ServerSession()
        try:
            found = self.store.load(sid)
        except StoreErrors as exc:
            _log.warning("session store unavailable: %s", exc.__class__.__name__)
            return ServerSession(unavailable=True)
        if found is None:
            return ServerSession()  # expired or signed out elsewhere: start afresh
        data, updated_at = found
        return ServerSession(data, sid, updated_at)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.unavailable:
            return
        name = self.get_cookie_name(app)
        cookie = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "httponly": self.get_cookie_httponly(app),
            "samesite": self.get_cookie_samesite(app),
        }
        if not session:
            if session.sid is not None and session.modified:  # cleared: sign-out
                self.store.delete(session.sid)
                response.delete_cookie(name, **cookie)
                response.vary.add("Cookie")
            return
        if session.modified:
            if session.sid is None or session.rotate:
                if session.sid is not None:
                    self.store.delete(session.sid)
                session.sid = secrets.token_urlsafe(_SID_BYTES)
                self.store.create(session.sid, dict(session), self.lifetime)
            elif not self.store.update(session.sid, dict(session), self.lifetime):
                # Signed out (another tab) or expired while this request ran: what it changed
                # must not sign the browser in again. The cookie is left alone: the browser may
                # hold a newer one by now, and a dead id opens as an anonymous session anyway.
                return
            # A browser-session cookie: the server decides expiry, the browser forgets on exit.
            response.set_cookie(name, session.sid, **cookie)
            response.vary.add("Cookie")
        elif (
            session.sid
            and session.updated_at is not None
            and datetime.now(UTC) - session.updated_at > _TOUCH_AFTER
        ):
            self.store.touch(session.sid, self.lifetime)
