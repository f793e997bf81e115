"""The durable task hub's database user: statement generation (pure) and the Job's runner.

No Azure SQL runs here, so the runner is driven with a recording connection; what the real
server would do with each statement is argued in functions/shared/sql_grants.py with sources.
"""

import uuid

import pytest

from functions.shared import sql_grants as sg

CLIENT_ID = "6F9619FF-8B86-D011-B42D-00C04FC964FF"


def test_the_sid_is_the_client_id_in_sql_servers_uniqueidentifier_byte_order():
    # CAST('6F9619FF-8B86-D011-B42D-00C04FC964FF' AS uniqueidentifier) as binary(16): the first
    # three groups are stored little-endian (uniqueidentifier documentation's example value).
    assert sg.sid_literal(CLIENT_ID) == "0xFF19966F868B11D0B42D00C04FC964FF"
    assert sg.sid_literal(CLIENT_ID.lower()) == sg.sid_literal(CLIENT_ID)


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "0x1234", "6F9619FF-8B86-D011-B42D"])
def test_a_client_id_that_is_not_a_uuid_is_refused(bad):
    with pytest.raises(sg.GrantConfigError):
        sg.sid_literal(bad)


def test_identifiers_are_bracket_quoted_with_closing_brackets_doubled():
    assert sg.quote_name("tinyshop") == "[tinyshop]"
    assert sg.quote_name("a]b; DROP USER x --") == "[a]]b; DROP USER x --]"
    with pytest.raises(sg.GrantConfigError):
        sg.quote_name("")
    with pytest.raises(sg.GrantConfigError):
        sg.quote_name("x" * 129)


def test_literals_double_their_quotes():
    assert sg.unicode_literal("o'hub") == "N'o''hub'"


def test_owner_mode_creates_the_user_by_sid_and_makes_it_db_owner():
    statements = sg.grant_statements(sg.TaskHubUser("tinyshop", CLIENT_ID))
    sid = "0xFF19966F868B11D0B42D00C04FC964FF"
    assert (
        f"IF DATABASE_PRINCIPAL_ID(N'tinyshop') IS NULL "
        f"CREATE USER [tinyshop] WITH SID = {sid}, TYPE = E;" in statements
    )
    assert any("ALTER ROLE [db_owner] ADD MEMBER [tinyshop]" in s for s in statements)
    assert not any("dt_runtime" in s for s in statements)
    # The SID check follows the create, so an existing user of another identity fails.
    create = next(i for i, s in enumerate(statements) if "CREATE USER" in s)
    check = next(i for i, s in enumerate(statements) if "sys.database_principals" in s)
    assert check > create
    assert f"<> {sid} THROW 51002" in statements[check]


def test_every_statement_is_guarded_so_a_rerun_changes_nothing():
    for role in sg.ROLES:
        for statement in sg.grant_statements(sg.TaskHubUser("tinyshop", CLIENT_ID, role)):
            assert statement.startswith("IF "), statement


def test_the_task_hub_mode_is_checked_first():
    [first, *_] = sg.grant_statements(sg.TaskHubUser("tinyshop", CLIENT_ID))
    assert "TaskHubMode" in first
    assert "<> 1" in first
    assert "THROW 51001" in first


def test_runtime_mode_needs_dt_runtime_joins_it_and_leaves_db_owner():
    statements = sg.grant_statements(sg.TaskHubUser("tinyshop", CLIENT_ID, "runtime"))
    text = "\n".join(statements)
    assert "IF DATABASE_PRINCIPAL_ID(N'dt_runtime') IS NULL THROW 51003" in text
    assert "ALTER ROLE [dt_runtime] ADD MEMBER [tinyshop]" in text
    assert "ALTER ROLE [db_owner] DROP MEMBER [tinyshop]" in text
    assert "ADD MEMBER [tinyshop];" in text
    assert "[db_owner] ADD" not in text


def test_a_hostile_user_name_stays_one_identifier():
    statements = sg.grant_statements(sg.TaskHubUser("x]; DROP TABLE dt.Instances; --", CLIENT_ID))
    create = next(s for s in statements if "CREATE USER" in s)
    assert "CREATE USER [x]]; DROP TABLE dt.Instances; --] WITH SID" in create
    assert "N'x]; DROP TABLE dt.Instances; --'" in create


def test_an_unknown_role_is_refused():
    with pytest.raises(sg.GrantConfigError, match="owner"):
        sg.TaskHubUser("tinyshop", CLIENT_ID, "admin")


def test_the_connection_string_validates_the_certificate_and_holds_no_secret():
    text = sg.connection_string("sql-tinyshop-dev-ab12c.database.windows.net", "sqldb-durable")
    assert "Encrypt=yes" in text
    assert "TrustServerCertificate=no" in text
    assert "Password" not in text
    assert "Authentication" not in text
    with pytest.raises(sg.GrantConfigError):
        sg.connection_string("host;Authentication=SqlPassword", "db")


ENV = {
    sg.SERVER_ENV: "sql-tinyshop-dev-ab12c.database.windows.net",
    sg.DATABASE_ENV: "sqldb-durable",
    sg.USER_ENV: "tinyshop",
    sg.USER_CLIENT_ID_ENV: str(uuid.UUID(CLIENT_ID)),
}


class RecordingConnection:
    """Stands in for the mssql-python connection: records statements, fails on request."""

    def __init__(self, fail_on: str | None = None):
        self.executed: list[str] = []
        self.events: list[str] = []
        self.fail_on = fail_on

    def cursor(self):
        return self

    def execute(self, statement: str):
        if self.fail_on and self.fail_on in statement:
            raise RuntimeError("Msg 51002")
        self.executed.append(statement)

    def commit(self):
        self.events.append("commit")

    def rollback(self):
        self.events.append("rollback")

    def close(self):
        self.events.append("close")


def test_main_runs_the_statements_in_one_committed_transaction():
    connection = RecordingConnection()
    seen = []

    def connect(server, database):
        seen.append((server, database))
        return connection

    assert sg.main(ENV, connect) == 0
    assert seen == [(ENV[sg.SERVER_ENV], ENV[sg.DATABASE_ENV])]
    assert connection.executed == sg.grant_statements(
        sg.TaskHubUser("tinyshop", ENV[sg.USER_CLIENT_ID_ENV])
    )
    assert connection.events == ["commit", "close"]


def test_a_failing_statement_rolls_everything_back_and_fails_the_job():
    connection = RecordingConnection(fail_on="sys.database_principals")
    with pytest.raises(RuntimeError):
        sg.main(ENV, lambda _s, _d: connection)
    assert connection.events == ["rollback", "close"]


def test_missing_settings_fail_before_connecting():
    def connect(_s, _d):
        raise AssertionError("must not connect")

    env = {k: v for k, v in ENV.items() if k != sg.USER_CLIENT_ID_ENV}
    assert sg.main(env, connect) == 2


def test_the_real_driver_accepts_the_jobs_connection_string_and_dials_the_server():
    """Contract with the installed driver (a real login needs Azure SQL): mssql-python parses
    the Job's connection string (it refuses keywords outside its allow-list, such as
    `Connection Timeout`), loads its bundled ODBC driver (which needs Debian's libltdl7: the
    Dockerfile installs it, `make test` too) and dials the server — nothing listens on 1433
    here, so it fails at TCP, after everything the Job controls has been accepted."""
    import mssql_python

    class Token:
        def get_token(self, *scopes: str, **kwargs: object) -> object:
            from azure.core.credentials import AccessToken

            return AccessToken("not-a-token", 4102444800)

    with pytest.raises(mssql_python.OperationalError) as failure:
        mssql_python.connect(
            sg.connection_string("127.0.0.1", "tinyshop"),
            autocommit=False,
            attrs_before={mssql_python.SQL_ATTR_LOGIN_TIMEOUT: 5},
            token_provider=Token(),
        )
    assert "TCP Provider" in str(failure.value), failure.value
