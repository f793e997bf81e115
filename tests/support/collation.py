"""A database with Azure's default collation behaviour, for the tests of code that must not
depend on the database's order of text: glibc's en_US (Azure Database for PostgreSQL's
default) ignores punctuation at the first comparison level, so there 'ab-c' sorts after 'abb',
in code point order before it. ICU's `en-US-u-ka-shifted` orders the same way."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from dev.postgres.launcher import fresh_database
from functions.shared import migrations

PUNCTUATION_BLIND = "en-US-u-ka-shifted"


@contextmanager
def punctuation_blind_database(admin_url: str, name: str, migrations_dir: Path) -> Iterator[str]:
    """A fresh database of that collation, migrated; the test is skipped where this Postgres
    has no ICU (the embedded pgserver of `make test` without a system Postgres)."""
    with psycopg.connect(admin_url) as conn:
        icu = conn.execute("SELECT count(*) FROM pg_collation WHERE collprovider = 'i'")
        if icu.fetchone()[0] == 0:  # type: ignore[index]
            pytest.skip("this Postgres is built without ICU (the embedded pgserver is)")
    with fresh_database(admin_url, name, icu_locale=PUNCTUATION_BLIND) as url:
        migrations.upgrade(url, migrations_dir)
        yield url
