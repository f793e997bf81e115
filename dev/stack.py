"""`make dev`: prepare the local databases, then run every TinyShop process of dev/Procfile
under dev/supervisor.py, which restarts a process that dies while the others keep running.

Re-runnable: databases are created only when missing, migrations and seed are idempotent.
Ctrl-C stops every process, then the embedded Postgres if this run started one.
"""

import os
import signal
import socket
import sys

from dev import supervisor
from dev.cosmos import launcher as local_cosmos
from dev.oidc import launcher as local_oidc
from dev.postgres import launcher as postgres
from functions.catalog.seed import seed
from functions.shared import migrations
from functions.shared.eventbus.local_queue import MIGRATIONS as BUS_MIGRATIONS
from ui.app.schema import migrate as migrate_ui

PORTS = {"catalog": 7071, "orders": 7072, "oidc": 8443, "cosmos": 8081, "ui": 8000}
PROCFILE = postgres.REPO / "dev" / "Procfile"


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def prepare(env: dict[str, str]) -> None:
    """Point every app at its own database and bring each schema to head (and seed catalog)."""
    admin = postgres.admin_url()
    for app in ("catalog", "orders"):
        variable = f"{app.upper()}_DATABASE_URL"
        url = env.setdefault(variable, postgres.database_url(admin, app))
        migrations.ensure_database(url)
        migrations.upgrade(url, postgres.REPO / "functions" / app / "migrations")
        print(f"{app}: schema at {migrations.current_revision(url)}")
    bus = env.setdefault("LOCAL_BUS_DATABASE_URL", postgres.database_url(admin, "bus"))
    migrations.ensure_database(bus)
    migrations.upgrade(bus, BUS_MIGRATIONS)
    print(f"local event bus: schema at {migrations.current_revision(bus)}")
    ui_db = env.setdefault("UI_SESSION_DATABASE_URL", postgres.database_url(admin, "ui"))
    print(f"ui: sessions schema at {migrate_ui(ui_db, create_database=True)}")
    env.setdefault("UI_SESSION_COOKIE_SECURE", "false")  # make dev serves plain http
    print(f"catalog: {seed(env['CATALOG_DATABASE_URL'])} products seeded")
    env.setdefault("EVENT_BUS", "local")
    for name, value in local_cosmos.settings().items():  # the Cosmos DB stand-in on :8081
        env.setdefault(name, value)
    local_cosmos.ensure_node_modules()
    # Every process trusts the local OIDC server's self-signed CA (httpx, PyJWT, MSAL, Node).
    env.update(local_oidc.ensure_certificates().trust_env())
    local_oidc.ensure_node_modules()


def main() -> int:
    busy = [f"{name} ({port})" for name, port in PORTS.items() if _port_in_use(port)]
    if busy:
        print(f"Ports already in use: {', '.join(busy)}. Is `make dev` running elsewhere?")
        return 1
    # Ctrl-C and SIGTERM while preparing still run the cleanup (the embedded Postgres stops).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = dict(os.environ)
    try:
        prepare(env)
    except KeyboardInterrupt:
        postgres.stop_embedded()
        return 130
    env["PYTHON"] = sys.executable
    env.setdefault("PYTHONUNBUFFERED", "1")
    # A local key for the worker's log pseudonyms (functions/shared/pseudonym.py): nothing
    # secret is logged locally, and the field shows as it would where a real key is set.
    env.setdefault("LOG_PSEUDONYM_KEY", "local-development-only")
    print(
        "\nTinyShop local stack\n"
        f"  shop          http://127.0.0.1:{PORTS['ui']}  (Sign in: any user name, no password)\n"
        f"  catalog API   http://127.0.0.1:{PORTS['catalog']}/products\n"
        f"  catalog docs  http://127.0.0.1:{PORTS['catalog']}/catalog/docs\n"
        f"  orders API    http://127.0.0.1:{PORTS['orders']}/orders/docs\n"
        "                (a token for curl: make token USER=alice)\n"
        f"  identity      {local_oidc.ISSUER} (local OIDC, any user name signs in)\n"
        f"  Cosmos DB     {local_cosmos.ENDPOINT} (stand-in; the worker writes order timelines)\n"
        "A process that dies is restarted; Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        return supervisor.supervise(supervisor.read_procfile(PROCFILE), env, postgres.REPO)
    finally:
        postgres.stop_embedded()


if __name__ == "__main__":
    sys.exit(main())
