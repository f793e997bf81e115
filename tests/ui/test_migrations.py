"""The UI's schema migrations use the apps' shared helper (functions/shared/migrations.py) and run
from exactly the files the UI image holds: `ui/` plus `functions/__init__.py`,
`functions/shared/__init__.py`, `functions/shared/migrations.py`,
`functions/shared/db_roles.py` (the UI's own login role), `functions/shared/identifiers.py`
(the product id format the UI shares with the APIs) and the shared JSON logs and OpenTelemetry
set-up (`functions/shared/logs.py`, `observability.py`)."""

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

REPO = Path(__file__).resolve().parents[2]
IMAGE_FUNCTIONS_FILES = (
    "functions/__init__.py",
    "functions/shared/__init__.py",
    "functions/shared/migrations.py",
    "functions/shared/db_roles.py",
    "functions/shared/identifiers.py",
    "functions/shared/logs.py",
    "functions/shared/observability.py",
)
# Run in the image's layout: migrate, then list every module of `functions` that was imported.
MIGRATE = """
import sys
from ui.app.__main__ import main
status = main(["migrate", "--create-database"])
print(sorted(name for name in sys.modules if name.split(".")[0] == "functions"))
sys.exit(status)
"""
# What the web process (gunicorn's `ui.app:create_app()`) imports.
WEB_IMPORTS = """
import sys
import ui.app
print(sorted(name for name in sys.modules if name.split(".")[0] in ("alembic", "functions")))
"""


def image_layout(root: Path) -> Path:
    """What the UI image copies, and nothing else of the repository."""
    shutil.copytree(REPO / "ui", root / "ui", ignore=shutil.ignore_patterns("__pycache__"))
    for name in IMAGE_FUNCTIONS_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    return root


@contextmanager
def missing_database(admin_url: str) -> Iterator[str]:
    """The URL of a database that does not exist yet (dropped at the end if it was created)."""
    name = f"tinyshop_test_ui_image_{uuid.uuid4().hex[:8]}"
    try:
        yield make_conninfo(admin_url, dbname=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def test_migrate_runs_from_the_ui_image_files_alone(tmp_path: Path, postgres_admin_url: str):
    root = image_layout(tmp_path / "srv")
    with missing_database(postgres_admin_url) as url:
        result = subprocess.run(
            [sys.executable, "-c", MIGRATE],
            cwd=root,  # sys.path[0] is the copy; the repository is not on sys.path
            env={"UI_SESSION_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        *_, schema, imported = result.stdout.strip().splitlines()
        assert schema == "ui: sessions schema at 0001"
        assert imported == str(
            [
                "functions",
                "functions.shared",
                "functions.shared.db_roles",
                "functions.shared.identifiers",
                "functions.shared.logs",
                "functions.shared.migrations",
                "functions.shared.observability",
            ]
        )
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('ui_sessions')::text").fetchone() == (
                "ui_sessions",
            )


def test_the_ui_migration_environment_is_the_shared_one() -> None:
    env = (REPO / "ui" / "app" / "migrations" / "env.py").read_text()
    assert "from functions.shared.migrations import run_env" in env
    assert "pg_advisory" not in env  # no copy of the recipe


def test_the_web_process_loads_no_alembic_and_of_functions_only_the_identifiers() -> None:
    """Only `python -m ui.app migrate` needs the copied migration helper; the web process shares
    just the identifier formats, the JSON logs and the OpenTelemetry set-up with the APIs."""
    loaded = subprocess.run(
        [sys.executable, "-c", WEB_IMPORTS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip() == str(
        [
            "functions",
            "functions.shared",
            "functions.shared.identifiers",
            "functions.shared.logs",
            "functions.shared.observability",
        ]
    )
