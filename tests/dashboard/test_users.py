"""`cs-health user create`: password from stdin or a double prompt, length check, duplicate e-mail."""

from __future__ import annotations

from sqlalchemy import select

from cs_health.db.engine import Database
from cs_health.db.tables import DashboardUser
from tests.conftest import CliInvoker


def test_create_from_stdin(cli: CliInvoker, database: Database):
    result = cli("user", "create", "ana@cs.example", "--role", "admin", "--password-stdin", input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "created dashboard user ana@cs.example (role admin)" in result.stdout
    with database.transaction() as session:
        user = session.scalars(select(DashboardUser)).one()
    assert user.role == "admin"
    assert user.password_hash.startswith("$argon2")


def test_create_prompts_twice(cli: CliInvoker, database: Database):
    result = cli("user", "create", "bo@cs.example", input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    assert "a long password" not in result.stdout


def test_short_passwords_bad_roles_and_duplicates_are_plain_errors(cli: CliInvoker, database: Database):
    short = cli("user", "create", "cy@cs.example", "--password-stdin", input="short\n")
    assert short.exit_code == 2
    assert "at least 10 characters" in short.stderr
    role = cli("user", "create", "cy@cs.example", "--role", "boss", "--password-stdin", input="a long password\n")
    assert role.exit_code == 2
    assert "csm or admin" in role.stderr
    assert cli("user", "create", "cy@cs.example", "--password-stdin", input="a long password\n").exit_code == 0
    again = cli("user", "create", "CY@cs.example", "--password-stdin", input="a long password\n")
    assert again.exit_code == 1
    assert again.stderr.strip() == "error: a dashboard user cy@cs.example already exists"
