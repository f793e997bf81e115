"""The plans Postgres picks for the app's own statements, on tables large enough that a lost
index shows: the statements are captured from the real code (a recording cursor), then planned
with EXPLAIN (FORMAT JSON) twice — with their values (a custom plan, what the first executions
get) and as a prepared statement with plan_cache_mode = force_generic_plan (what psycopg's
prepared statements may settle on after their 5th execution,
https://www.postgresql.org/docs/15/sql-prepare.html).
"""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.sql import Literal
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any


class RecordingCursor(psycopg.Cursor):
    """A cursor that keeps every parameterized statement it executes on its connection."""

    def execute(self, query, params=None, **kwargs):  # psycopg's own signature
        if params is not None:
            self.connection.recorded.append(Statement(str(query), params))  # type: ignore[attr-defined]
        return super().execute(query, params, **kwargs)


@contextmanager
def recording(url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection (as the pools give) recording its statements in `.recorded`."""
    with psycopg.connect(url, autocommit=True, cursor_factory=RecordingCursor) as conn:
        conn.recorded = []  # type: ignore[attr-defined]
        yield conn


class OneConnection:
    """What a `Database` offers the use cases, on one given connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        yield self._conn


class RecordingAsyncCursor(psycopg.AsyncCursor):
    """`RecordingCursor` for an asyncio connection (orders' routes are async)."""

    async def execute(self, query, params=None, **kwargs):  # psycopg's own signature
        if params is not None:
            self.connection.recorded.append(Statement(str(query), params))  # type: ignore[attr-defined]
        return await super().execute(query, params, **kwargs)


class OneAsyncConnection:
    """What an `AsyncDatabase` offers the use cases, on one given connection."""

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self._conn = conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        yield self._conn


def recorded_async(
    url: str, scenario: Callable[[psycopg.AsyncConnection], Awaitable[object]]
) -> list[Statement]:
    """The parameterized statements `scenario` executes on one autocommit asyncio connection
    (as the pools give), in order."""

    async def run() -> list[Statement]:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, cursor_factory=RecordingAsyncCursor
        )
        async with conn:
            conn.recorded = []  # type: ignore[attr-defined]
            await scenario(conn)
            return conn.recorded  # type: ignore[attr-defined]

    return asyncio.run(run())


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


def _postgres_type(value: object) -> str:
    match value:
        case bool():
            return "boolean"
        case int():
            return "bigint"
        case Decimal():
            return "numeric"
        case str():
            return "text"
        case UUID():
            return "uuid"
        case datetime():
            return "timestamptz"
        case timedelta():
            return "interval"
        case bytes():
            return "bytea"
        case Jsonb():
            return "jsonb"
        case [UUID(), *_]:
            return "uuid[]"
        case [str(), *_]:
            return "text[]"
        case [int(), *_]:
            return "bigint[]"
        case [Decimal(), *_]:
            return "numeric[]"
    raise TypeError(f"no Postgres type for {value!r}")


def numbered(sql: str, params: Any) -> tuple[str, list[Any]]:
    """`sql` with psycopg's %s / %(name)s placeholders as $1..$n, and the values in order."""
    values: list[Any] = []
    names: dict[str, int] = {}
    positional = iter(params) if not isinstance(params, dict) else iter(())

    def replace(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            values.append(next(positional))
            return f"${len(values)}"
        if name not in names:
            values.append(params[name])
            names[name] = len(values)
        return f"${names[name]}"

    return _PLACEHOLDER.sub(replace, sql), values


def _with_literals(conn: psycopg.Connection, sql: str, values: list[Any], types: list[str]) -> str:
    """`sql` with $n replaced by each value as a typed literal (a utility statement such as
    EXPLAIN EXECUTE takes no bound parameters)."""

    def literal(match: re.Match) -> str:
        n = int(match.group(1)) - 1
        return f"{Literal(values[n]).as_string(conn)}::{types[n]}"

    return re.sub(r"\$(\d+)", literal, sql)


def plan(conn: psycopg.Connection, statement: Statement, generic: bool) -> dict:
    """The plan of `statement` (not executed): custom for its values, or generic."""
    sql, values = numbered(statement.sql, statement.params)
    if any(v is None for v in values):
        raise ValueError(f"a NULL value leaves its type open: {statement.sql}")
    types = [_postgres_type(v) for v in values]
    if not generic:
        explain = "EXPLAIN (FORMAT JSON) " + _with_literals(conn, sql, values, types)
        return conn.execute(explain).fetchone()[0][0]["Plan"]
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute(f"PREPARE plan_check ({', '.join(types)}) AS {sql}")
    try:
        arguments = ", ".join(f"${n}" for n in range(1, len(values) + 1))
        execute = _with_literals(conn, f"EXECUTE plan_check ({arguments})", values, types)
        return conn.execute("EXPLAIN (FORMAT JSON) " + execute).fetchone()[0][0]["Plan"]
    finally:
        conn.execute("DEALLOCATE plan_check")
        conn.execute("RESET plan_cache_mode")


def nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def indexes(node: dict) -> set[str]:
    return {n["Index Name"] for n in nodes(node) if "Index Name" in n}


def sequential_scans(node: dict) -> set[str]:
    return {n["Relation Name"] for n in nodes(node) if n["Node Type"] == "Seq Scan"}


def assert_indexed(
    conn: psycopg.Connection,
    statement: Statement,
    index: str | set[str],
    table: str,
    in_order: bool = False,
    generic_too: bool = True,
) -> None:
    """Both plans of `statement` (or only the custom one) use `index` (one of them, when
    several would do) and never read all of `table`; `in_order`: nor sort what they read of
    it (the index gives the order, so a LIMIT stops early)."""
    wanted = {index} if isinstance(index, str) else index
    for generic in (False, True) if generic_too else (False,):
        found = plan(conn, statement, generic)
        kind = "generic" if generic else "custom"
        assert wanted & indexes(found), (kind, statement.sql, found)
        assert table not in sequential_scans(found), (kind, statement.sql, found)
        if in_order:
            assert table not in sorted_tables(found), (kind, statement.sql, found)


def sorted_tables(node: dict) -> set[str]:
    """Tables whose rows a Sort node reads straight from a scan."""
    found = set()
    for n in nodes(node):
        if n["Node Type"] == "Sort":
            found |= {c["Relation Name"] for c in n.get("Plans", []) if "Relation Name" in c}
    return found


def one(recorded: list[Statement], starts: str) -> Statement:
    """The one recorded statement whose SQL starts with `starts` (after whitespace)."""
    [found] = [s for s in recorded if s.sql.lstrip().startswith(starts)]
    return found
