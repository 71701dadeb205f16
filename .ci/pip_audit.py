"""CI step: pip-audit over the installed environment (the project's own editable install left out).

Exit 1 when an installed package has a known vulnerability that a released version fixes. A vulnerability without
a fix is printed and passes. When the vulnerability service cannot be reached, or answers for none of the packages
(a mirror that serves the package index but not PyPI's per-version JSON does that), it says so plainly and passes:
CI must not go red for a network hiccup, and must not claim an audit that did not happen.

    python .ci/pip_audit.py [--report FILE]   # --report: judge a saved `pip-audit --format json` report instead
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 900


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def run_pip_audit() -> dict[str, Any] | None:
    """pip-audit's JSON report, or None when it produced none (the service was unreachable or it failed)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "pip-audit.json"
        command = [sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off"]
        command += ["--format", "json", "--output", str(report)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            say(f"note: pip-audit did not finish in {TIMEOUT_SECONDS} s (the vulnerability service is slow or away)")
            return None
        if report.exists() and report.read_text().strip():
            return json.loads(report.read_text())
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        say(f"note: pip-audit could not reach its vulnerability service, so nothing was audited: {reason[:300]}")
        return None


def judge(report: dict[str, Any]) -> int:
    """0 unless a vulnerability with a fixed version is installed; says what was and was not audited."""
    dependencies = report.get("dependencies", [])
    skipped = [item for item in dependencies if "skip_reason" in item]
    audited = [item for item in dependencies if "skip_reason" not in item]
    fixable, unfixable = [], []
    for item in audited:
        for vulnerability in item.get("vulns", []):
            line = f"{item['name']} {item['version']}: {vulnerability['id']}"
            if vulnerability.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vulnerability['fix_versions'])})")
            else:
                unfixable.append(f"{line} (no fixed version yet)")
    say(f"pip-audit: {len(audited)} packages audited, {len(skipped)} not audited")
    if not audited and skipped:
        say(f"note: the vulnerability service answered for none of the {len(skipped)} packages, so nothing was")
        say(f"      audited (first reason: {skipped[0]['skip_reason']}); not failing CI for it")
    for line in unfixable:
        say(f"warning: {line}")
    for line in fixable:
        say(f"VULNERABLE: {line}")
    if fixable:
        say("raise the lower bounds in pyproject.toml (or upgrade) to a fixed version")
        return 1
    return 0


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["--report"] and len(arguments) == 2:
        return judge(json.loads(Path(arguments[1]).read_text()))
    report = run_pip_audit()
    return 0 if report is None else judge(report)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
