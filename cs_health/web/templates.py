"""The shell's one Jinja2 environment for pages; autoescape is on, so data never becomes markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


def render(template: str, **context: Any) -> str:
    return environment.get_template(template).render(**context)
