"""Pure rendering: QBR and monthly report context, SVG charts, HTML (Jinja2) and PDF.

Never imports cs_health, SQLAlchemy or FastAPI.
"""
