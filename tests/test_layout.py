"""The design's dependency rule: the analytic core never reaches into the shell, the ORM or the web layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"cs_health", "sqlalchemy", "fastapi"}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["models", "alerts", "reports"])
def test_core_packages_import_no_shell_orm_or_web(package: str):
    files = list((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ should exist and hold code"
    offenders = {str(path.relative_to(ROOT)): imported_top_levels(path) & FORBIDDEN for path in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_models_never_imports_alerts_or_reports():
    for path in (ROOT / "models").rglob("*.py"):
        assert not imported_top_levels(path) & {"alerts", "reports"}, path


def test_the_rule_checker_sees_a_forbidden_import(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text("from sqlalchemy.orm import Session\nimport cs_health.config\n", encoding="utf-8")
    assert imported_top_levels(sample) & FORBIDDEN == {"sqlalchemy", "cs_health"}
