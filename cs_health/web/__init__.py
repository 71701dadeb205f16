"""Server-rendered pages: one Jinja2 environment with autoescape."""
