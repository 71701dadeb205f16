"""The CLI contract of DESIGN section 5: every command is there and answers plainly."""

from __future__ import annotations

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


def test_output_when_piped_has_no_progress_bar_or_colour(cli: CliInvoker, tmp_path):
    (tmp_path / "a.csv").write_text("account_id\nacc-1\n", encoding="utf-8")
    result = cli("import", "accounts", str(tmp_path / "a.csv"))
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout + result.stderr
    assert result.stdout.strip() == "a.csv: 1 accepted (1 new, 0 updated), 0 rejected"


def test_every_subcommand_documents_itself(cli: CliInvoker):
    for arguments in (["export", "scores"], ["outbox", "send"], ["apikey", "create"], ["user", "create"]):
        result = cli(*arguments, "--help")
        assert result.exit_code == 0, arguments
        assert "Usage:" in result.stdout
