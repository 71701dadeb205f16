"""Pure decisions and delivery: alert rules, dedup and cooldown, training suggestions, e-mail rendering and SMTP.

Never imports cs_health, SQLAlchemy or FastAPI.
"""
