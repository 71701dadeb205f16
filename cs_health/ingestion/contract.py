"""The data contract of DESIGN section 4, as data: one spec per importable kind, read by the validator."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    TIMESTAMP = "timestamp"
    DATE = "date"
    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"
    TAGS = "tags"
    JSON_OBJECT = "json_object"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 300


@dataclass(frozen=True)
class KindSpec:
    """One importable kind: its fields, the key that makes re-imports replace rows, and extra-column policy."""

    name: str
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...] = ()
    extras_are_properties: bool = False
    account_must_exist: bool = True
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields if spec.required)


ID_LENGTH = 128
# One event's quantity: beyond this it is a unit mistake, and sums of such values overflow a double (PostgreSQL
# refuses the rollup; SQLite would store infinity).
MAX_QUANTITY = 1e15
ROLES = ("champion", "decision_maker", "admin", "user")
STATUSES = ("active", "cancelled")
PRIORITIES = ("low", "normal", "high", "urgent")
TOUCH_KINDS = ("call", "meeting", "email", "demo", "training", "qbr", "note")
LEVELS = ("intro", "core", "advanced")
FORMATS = ("doc", "video", "webinar", "course")

_ACCOUNT_REF = FieldSpec("account_id", required=True, max_length=ID_LENGTH)

KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec(
            "accounts",
            (
                FieldSpec("account_id", required=True, max_length=ID_LENGTH),
                FieldSpec("name"),
                FieldSpec("segment", max_length=64),
                FieldSpec("industry", max_length=128),
                FieldSpec("csm_email", FieldType.EMAIL, max_length=320),
                FieldSpec("plan", max_length=64),
                FieldSpec("created_at", FieldType.TIMESTAMP),
                FieldSpec("tags", FieldType.TAGS),
            ),
            key=("account_id",),
            account_must_exist=False,
        ),
        KindSpec(
            "users",
            (
                FieldSpec("user_id", required=True, max_length=ID_LENGTH),
                _ACCOUNT_REF,
                FieldSpec("email", FieldType.EMAIL, max_length=320),
                FieldSpec("name"),
                FieldSpec("role", FieldType.CHOICE, choices=ROLES),
                FieldSpec("created_at", FieldType.TIMESTAMP),
            ),
            key=("user_id",),
        ),
        KindSpec(
            "subscriptions",
            (
                _ACCOUNT_REF,
                FieldSpec("start_date", FieldType.DATE, required=True),
                FieldSpec("end_date", FieldType.DATE, required=True),
                FieldSpec("mrr", FieldType.NUMBER, minimum=0),
                FieldSpec("arr", FieldType.NUMBER, minimum=0),
                FieldSpec("plan", max_length=64),
                FieldSpec("seats", FieldType.INTEGER, minimum=0),
                FieldSpec("subscription_id", max_length=200),
                FieldSpec("status", FieldType.CHOICE, choices=STATUSES),
            ),
            key=("subscription_id",),
        ),
        KindSpec(
            "events",
            (
                FieldSpec("account_id", required=True, max_length=ID_LENGTH),
                FieldSpec("event", required=True, max_length=200),
                FieldSpec("timestamp", FieldType.TIMESTAMP, required=True),
                FieldSpec("user_id", max_length=ID_LENGTH),
                FieldSpec("quantity", FieldType.NUMBER, minimum=0, maximum=MAX_QUANTITY),
                FieldSpec("message_id", max_length=255),
                FieldSpec("properties", FieldType.JSON_OBJECT),
            ),
            key=("message_id",),
            extras_are_properties=True,
            account_must_exist=False,
        ),
        KindSpec(
            "tickets",
            (
                FieldSpec("ticket_id", required=True, max_length=200),
                _ACCOUNT_REF,
                FieldSpec("opened_at", FieldType.TIMESTAMP, required=True),
                FieldSpec("closed_at", FieldType.TIMESTAMP),
                FieldSpec("priority", FieldType.CHOICE, choices=PRIORITIES),
                FieldSpec("csat", FieldType.INTEGER, minimum=1, maximum=5),
            ),
            key=("ticket_id",),
        ),
        KindSpec(
            "nps",
            (
                _ACCOUNT_REF,
                FieldSpec("responded_at", FieldType.TIMESTAMP, required=True),
                FieldSpec("score", FieldType.INTEGER, required=True, minimum=0, maximum=10),
                FieldSpec("user_id", max_length=ID_LENGTH),
                FieldSpec("comment", max_length=10_000),
            ),
            key=("account_id", "responded_at", "user_id"),
        ),
        KindSpec(
            "touchpoints",
            (
                _ACCOUNT_REF,
                FieldSpec("at", FieldType.TIMESTAMP, required=True),
                FieldSpec("kind", FieldType.CHOICE, required=True, choices=TOUCH_KINDS),
                FieldSpec("csm_email", FieldType.EMAIL, max_length=320),
                FieldSpec("notes", max_length=10_000),
            ),
            key=("account_id", "at", "kind"),
        ),
        KindSpec(
            "trainings",
            (
                FieldSpec("training_id", required=True, max_length=ID_LENGTH),
                FieldSpec("title", required=True),
                FieldSpec("features", FieldType.TAGS, required=True),
                FieldSpec("url", max_length=2000),
                FieldSpec("level", FieldType.CHOICE, choices=LEVELS),
                FieldSpec("format", FieldType.CHOICE, choices=FORMATS),
            ),
            key=("training_id",),
            account_must_exist=False,
        ),
    )
}

IMPORT_ORDER = ("accounts", "users", "subscriptions", "trainings", "events", "tickets", "nps", "touchpoints")
