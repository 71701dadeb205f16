"""Pure analytics: usage features, health score, usage forecast, churn model, lifecycle, backtests.

Takes plain data (pandas frames, dataclasses) and returns plain data; never imports cs_health, SQLAlchemy or FastAPI.
"""
