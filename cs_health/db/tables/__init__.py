"""Every ORM table, imported here so the metadata (and Alembic) sees them all."""

from cs_health.db.base import Base
from cs_health.db.tables.accounts import Account, Contact, Subscription
from cs_health.db.tables.alerts import Alert, OutboxMessage, SchedulerJob, SchedulerLease
from cs_health.db.tables.audit import AuditEvent
from cs_health.db.tables.engagement import NpsResponse, Ticket, Touchpoint
from cs_health.db.tables.operations import ApiKey, DashboardUser, ImportRun, PipelineRun, Report
from cs_health.db.tables.results import (
    ChurnModelRecord,
    ChurnPrediction,
    HealthOverride,
    HealthScore,
    UsageForecast,
)
from cs_health.db.tables.trainings import Training, TrainingSuggestion
from cs_health.db.tables.usage import ANONYMOUS_USER, DailyUsage, UsageEvent, UserDailyUsage, rollup_days

__all__ = [
    "ANONYMOUS_USER",
    "Account",
    "Alert",
    "ApiKey",
    "AuditEvent",
    "Base",
    "ChurnModelRecord",
    "ChurnPrediction",
    "Contact",
    "DailyUsage",
    "DashboardUser",
    "HealthOverride",
    "HealthScore",
    "ImportRun",
    "NpsResponse",
    "OutboxMessage",
    "PipelineRun",
    "Report",
    "SchedulerJob",
    "SchedulerLease",
    "Subscription",
    "Ticket",
    "Touchpoint",
    "Training",
    "TrainingSuggestion",
    "UsageEvent",
    "UsageForecast",
    "UserDailyUsage",
    "rollup_days",
]
