"""A demo-like portfolio (the demo generator's, written in the data contract once per session) for the crash
tests, and loading it through the real import path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cs_health.demo.generator import generate_portfolio, write_portfolio
from tests.conftest import CliInvoker

AS_OF = dt.date(2026, 9, 1)  # fixed, so a run and its clean twin compute exactly the same thing


@pytest.fixture(scope="session")
def portfolio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{kind: file} for 40 accounts over 12 months up to AS_OF (about 100,000 events)."""
    portfolio = generate_portfolio(accounts=40, months=12, seed=11, end=AS_OF)
    return write_portfolio(portfolio, tmp_path_factory.mktemp("portfolio"))


def load(cli: CliInvoker, files: dict[str, Path], kinds: tuple[str, ...] | None = None) -> None:
    for kind, path in files.items():
        if kinds is None or kind in kinds:
            result = cli("import", kind, str(path))
            assert result.exit_code == 0, result.output
