"""The CLI contract of DESIGN section 5: every command is there, and unbuilt ones say what they await."""

from __future__ import annotations

import pytest

from tests.conftest import CliInvoker

CONTRACT = [
    "init",
    "demo",
    "import",
    "run",
    "train",
    "export",
    "report",
    "serve",
    "scheduler",
    "status",
    "outbox",
    "apikey",
    "user",
]


def test_help_lists_the_whole_contract(cli: CliInvoker):
    result = cli("--help")
    assert result.exit_code == 0
    for command in CONTRACT:
        assert f" {command} " in result.stdout, command


@pytest.mark.parametrize(
    "arguments",
    [
        ["report", "acc-1", "--period", "2026-10", "--out", "r.html"],
        ["user", "create", "ana@cs.example", "--role", "csm"],
    ],
)
def test_commands_awaiting_a_capability_say_so_in_one_line_and_exit_3(cli: CliInvoker, arguments: list[str]):
    result = cli(*arguments)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "awaits" in lines[0]


def test_output_when_piped_has_no_progress_bar_or_colour(cli: CliInvoker, tmp_path):
    (tmp_path / "a.csv").write_text("account_id\nacc-1\n", encoding="utf-8")
    result = cli("import", "accounts", str(tmp_path / "a.csv"))
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout + result.stderr
    assert result.stdout.strip() == "a.csv: 1 accepted (1 new, 0 updated), 0 rejected"
