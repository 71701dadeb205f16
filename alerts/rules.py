"""Alert rules as code: declarative TOML rules over one snapshot row per account, evaluated for every account at once.

A rule's condition is a small expression language, parsed with `ast` against a whitelist (never `eval`):
named snapshot fields and the rule's `params`, numbers, strings, lists of constants, `and` / `or` / `not`,
comparisons (`<`, `<=`, `>`, `>=`, `==`, `!=`, `in`, `not in`, chained), `+ - * /`, and the functions
`missing(field)`, `present(field)` and `abs(x)`. `"vip" in tags` tests a tag.

Missing values (an account without a churn prediction yet, a NaN feature) follow three-valued logic: a comparison
with a missing value is unknown, `unknown or true` is true, and a condition that ends unknown is *not met*. So
`churn_probability_renewal >= 0.5 or band == "red"` falls back to the band until the churn stage exists.

The default rules are `default_rules.toml` beside this module; the user's file (settings `ALERT_RULES_FILE`)
replaces default rules of the same name, adds new ones, and may switch a default off with `enabled = false`
(or drop them all with top-level `replace_defaults = true`).
"""

from __future__ import annotations

import ast
import math
import operator
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.toml")

SEVERITIES: tuple[str, ...] = ("info", "warning", "high", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
CSM, TEAM = "csm", "team"  # symbolic recipients: the account's owning CSM, the team address from settings

# Snapshot columns (one row per account); the kind decides what an expression may do with them.
ACCOUNT_ID, ACCOUNT_NAME, CSM_EMAIL, TAGS = "account_id", "account_name", "csm_email", "tags"
NUMBER, TEXT, BOOL, TAG_LIST, DATE = "number", "text", "bool", "tags", "date"
FIELDS: dict[str, str] = {
    ACCOUNT_ID: TEXT,
    ACCOUNT_NAME: TEXT,
    CSM_EMAIL: TEXT,
    "segment": TEXT,
    "plan": TEXT,
    TAGS: TAG_LIST,
    "score": NUMBER,
    "band": TEXT,
    "trend_7d": NUMBER,
    "trend_30d": NUMBER,
    "lifecycle_stage": TEXT,
    "previous_stage": TEXT,
    "quadrant": TEXT,
    "churn_probability_30d": NUMBER,
    "churn_probability_90d": NUMBER,
    "churn_probability_renewal": NUMBER,
    "days_to_renewal": NUMBER,
    "renewal_date": DATE,
    "arr": NUMBER,
    "seats": NUMBER,
    "seat_utilisation": NUMBER,
    "active_users_28d": NUMBER,
    "touches_90d": NUMBER,
    "champion_active_30d": BOOL,
    "usage_trend": NUMBER,
    "days_since_last_activity": NUMBER,
    "usage_anomaly": BOOL,
}
TEMPLATE_EXTRAS = ("rule", "severity")  # besides fields and params, what a title/message/dedup key may name

RULE_KEYS = {
    "name",
    "description",
    "when",
    "severity",
    "escalate",
    "recipients",
    "dedup_key",
    "cooldown_days",
    "auto_resolve",
    "title",
    "message",
    "params",
    "enabled",
}
REQUIRED_KEYS = ("name", "when", "severity", "title", "message")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MISSING_TEXT = "n/a"


class RuleError(ValueError):
    """A rules file that cannot be used; the message names the file, the rule and the field."""


# ---------------------------------------------------------------------------------------------------------------
# The expression language
# ---------------------------------------------------------------------------------------------------------------

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCTIONS = {"missing": BOOL, "present": BOOL, "abs": NUMBER}
_CONSTANTS = {"true": True, "false": False}
LIST = "list"


class _Checker:
    """Type-checks a parsed expression, so a broken rule fails on load (naming the problem), not at night."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self.names: set[str] = set()

    def kind(self, node: ast.AST) -> str:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.boolean(value)
            return BOOL
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.boolean(node.operand)
                return BOOL
            if isinstance(node.op, ast.USub | ast.UAdd) and self.kind(node.operand) == NUMBER:
                return NUMBER
            raise RuleError("a sign (+/-) needs a number")
        if isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                self.comparison(left, op, right)
                left = right
            return BOOL
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITHMETIC:
                raise RuleError(f"operator {type(node.op).__name__} is not allowed (only + - * /)")
            if self.kind(node.left) != NUMBER or self.kind(node.right) != NUMBER:
                raise RuleError("arithmetic needs numbers on both sides")
            return NUMBER
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
                raise RuleError(f"only the functions {', '.join(_FUNCTIONS)} may be called")
            if len(node.args) != 1 or node.keywords:
                raise RuleError(f"{node.func.id}() takes exactly one argument")
            argument = self.kind(node.args[0])
            if node.func.id == "abs" and argument != NUMBER:
                raise RuleError("abs() needs a number")
            if node.func.id != "abs" and not (isinstance(node.args[0], ast.Name) and node.args[0].id in FIELDS):
                raise RuleError(f"{node.func.id}() takes a field name")
            return _FUNCTIONS[node.func.id]
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.List | ast.Tuple):
            for item in node.elts:
                if not isinstance(item, ast.Constant) or isinstance(item.value, bool) or item.value is None:
                    raise RuleError("a list may hold only numbers and strings")
            return LIST
        raise RuleError(f"{type(node).__name__} is not allowed in a condition")

    def name(self, name: str) -> str:
        if name in FIELDS:
            self.names.add(name)
            if FIELDS[name] == DATE:
                raise RuleError(f"{name} is a date: use days_to_renewal in conditions")
            return FIELDS[name]
        if name in self.params:
            return self.constant(self.params[name])
        if name in _CONSTANTS:
            return BOOL
        raise RuleError(f"unknown field {name!r} (known: {', '.join(sorted(FIELDS))}; or a name from params)")

    @staticmethod
    def constant(value: Any) -> str:
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, int | float):
            return NUMBER
        if isinstance(value, str):
            return TEXT
        if isinstance(value, list):
            return LIST
        raise RuleError(f"constant {value!r} is not a number, string or boolean")

    def boolean(self, node: ast.AST) -> None:
        kind = self.kind(node)
        if kind != BOOL:
            label = ast.unparse(node)
            raise RuleError(f"{label!r} is a {kind}, not a condition: compare it (e.g. {label} > 0)")

    def comparison(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> None:
        left_kind, right_kind = self.kind(left), self.kind(right)
        if isinstance(op, ast.In | ast.NotIn):
            if right_kind == TAG_LIST and left_kind == TEXT:
                return
            if right_kind == LIST and left_kind in (TEXT, NUMBER):
                return
            raise RuleError(f"'{ast.unparse(left)} in {ast.unparse(right)}' needs a field in a list, or a tag in tags")
        if type(op) not in _COMPARE:
            raise RuleError(f"comparison {type(op).__name__} is not allowed")
        if left_kind in (TAG_LIST, LIST) or right_kind in (TAG_LIST, LIST):
            raise RuleError("compare lists with 'in' only")
        if left_kind != right_kind:
            raise RuleError(
                f"cannot compare {ast.unparse(left)} ({left_kind}) with {ast.unparse(right)} ({right_kind})"
            )
        if left_kind in (TEXT, BOOL) and type(op) not in (ast.Eq, ast.NotEq):
            raise RuleError(f"{ast.unparse(left)} is a {left_kind}: only == and != apply")


@dataclass(frozen=True)
class Condition:
    """A checked condition; `evaluate` gives one boolean per snapshot row (unknown counts as not met)."""

    source: str
    tree: ast.Expression = field(repr=False, compare=False)
    params: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    fields: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, source: str, params: Mapping[str, Any] | None = None) -> Condition:
        """Parses and type-checks `source`; a RuleError says what is wrong."""
        params = dict(params or {})
        if not isinstance(source, str) or not source.strip():
            raise RuleError("must be a non-empty expression")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as error:
            raise RuleError(f"syntax error in {source!r}: {error.msg}") from None
        checker = _Checker(params)
        checker.boolean(tree.body)
        return cls(source=source, tree=tree, params=params, fields=frozenset(checker.names))

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """Whether the condition is met on each row of `frame` (missing columns are all-missing)."""
        value = _Evaluator(frame, self.params).boolean(self.tree.body)
        return value.fillna(False).to_numpy(dtype=bool)


def _missing_mask(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


class _Evaluator:
    """Evaluates a checked tree column-wise; booleans are pandas nullable booleans (Kleene logic)."""

    def __init__(self, frame: pd.DataFrame, params: Mapping[str, Any]) -> None:
        self.frame, self.params, self.rows = frame, params, len(frame)

    def column(self, name: str) -> pd.Series:
        if name not in self.frame.columns:
            return pd.Series(np.nan, index=self.frame.index, dtype="float64" if FIELDS[name] == NUMBER else "object")
        values = self.frame[name]
        if FIELDS[name] == NUMBER:
            return pd.to_numeric(values, errors="coerce").astype("float64")
        return values

    def boolean(self, node: ast.AST) -> pd.Series:
        if isinstance(node, ast.BoolOp):
            values = [self.boolean(value) for value in node.values]
            result = values[0]
            for value in values[1:]:
                result = (result & value) if isinstance(node.op, ast.And) else (result | value)
            return result
        if isinstance(node, ast.UnaryOp):  # `not` (the checker allows no other unary op here)
            return ~self.boolean(node.operand)
        if isinstance(node, ast.Compare):
            left, result = node.left, None
            for op, right in zip(node.ops, node.comparators, strict=True):
                part = self.compare(left, op, right)
                result = part if result is None else result & part
                left = right
            return result
        if isinstance(node, ast.Call):
            argument = node.args[0]
            assert isinstance(node.func, ast.Name)
            assert isinstance(argument, ast.Name)
            missing = _missing_mask(self.column(argument.id))
            return self.flags(missing if node.func.id == "missing" else ~missing)
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return self.flags(np.full(self.rows, _CONSTANTS[node.id]))
        if isinstance(node, ast.Name) and node.id in self.params:
            return self.flags(np.full(self.rows, bool(self.params[node.id])))
        if isinstance(node, ast.Constant):
            return self.flags(np.full(self.rows, bool(node.value)))
        assert isinstance(node, ast.Name)
        values = self.column(node.id)
        missing = _missing_mask(values)
        truthy = np.zeros(self.rows, dtype=bool)
        truthy[~missing] = values[~missing].astype(bool).to_numpy()
        return self.flags(truthy, missing)

    def flags(self, values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
        mask = np.zeros(self.rows, dtype=bool) if missing is None else missing
        return pd.Series(pd.arrays.BooleanArray(np.asarray(values, dtype=bool), mask), index=self.frame.index)

    def value(self, node: ast.AST) -> Any:
        """A number/text operand: a Series, or a Python scalar for constants."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [item.value for item in node.elts if isinstance(item, ast.Constant)]
        if isinstance(node, ast.Name):
            if node.id in FIELDS:
                return self.column(node.id)
            if node.id in self.params:
                return self.params[node.id]
            return _CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            with np.errstate(divide="ignore", invalid="ignore"):
                result = _ARITHMETIC[type(node.op)](self.value(node.left), self.value(node.right))
            if isinstance(result, pd.Series):
                return result.replace([np.inf, -np.inf], np.nan)
            return result
        if isinstance(node, ast.Call):  # abs()
            return abs(self.value(node.args[0]))
        return self.boolean(node)

    def compare(self, left_node: ast.AST, op: ast.cmpop, right_node: ast.AST) -> pd.Series:
        left, right = self.value(left_node), self.value(right_node)
        if isinstance(op, ast.In | ast.NotIn):
            if isinstance(right_node, ast.Name) and FIELDS.get(right_node.id) == TAG_LIST:
                tags = right if isinstance(right, pd.Series) else pd.Series([[]] * self.rows, index=self.frame.index)
                hit = np.fromiter(
                    (isinstance(item, list | tuple | set) and left in item for item in tags),
                    dtype=bool,
                    count=self.rows,
                )
                return self.flags(~hit if isinstance(op, ast.NotIn) else hit)
            series = left if isinstance(left, pd.Series) else pd.Series([left] * self.rows, index=self.frame.index)
            hit = series.isin(right).to_numpy()
            return self.flags(~hit if isinstance(op, ast.NotIn) else hit, _missing_mask(series))
        missing = np.zeros(self.rows, dtype=bool)
        for side in (left, right):
            if isinstance(side, pd.Series):
                missing |= _missing_mask(side)
            elif side is None or (isinstance(side, float) and math.isnan(side)):
                missing[:] = True
        with np.errstate(invalid="ignore"):
            result = _COMPARE[type(op)](left, right)
        values = result.to_numpy(dtype=bool, na_value=False) if isinstance(result, pd.Series) else bool(result)
        return self.flags(np.broadcast_to(values, (self.rows,)) & ~missing, missing)


# ---------------------------------------------------------------------------------------------------------------
# Templates: titles, messages and dedup keys
# ---------------------------------------------------------------------------------------------------------------


class _Formatter(string.Formatter):
    """`str.format` limited to plain names (no attribute or index access); a missing value prints as n/a."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        return kwargs[field_name], field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if _is_missing(value):
            return MISSING_TEXT
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, pd.Timestamp):
            value = value.date()
        if isinstance(value, list | tuple | set):
            value = ", ".join(str(item) for item in value)
        return format(value, format_spec)


_FORMATTER = _Formatter()


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _template_names(template: str, allowed: Iterable[str]) -> frozenset[str]:
    if not isinstance(template, str) or not template.strip():
        raise RuleError("must be a non-empty text")
    names: set[str] = set()
    allowed = set(allowed)
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as error:
        raise RuleError(f"bad template {template!r}: {error}") from None
    for _literal, name, spec, _conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise RuleError(f"template field {{{name}}} must be a plain name (no attribute or index access)")
        if name not in allowed:
            raise RuleError(f"template names unknown field {{{name}}}")
        if spec and "{" in spec:
            raise RuleError(f"template field {{{name}}} may not nest fields in its format")
        names.add(name)
    return frozenset(names)


# ---------------------------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    """A higher severity for the rows also meeting `when` (re-notifies inside the cooldown)."""

    when: Condition
    severity: str


@dataclass(frozen=True)
class Rule:
    """One standard operating procedure: when to alert, how loud, whom, and how often."""

    name: str
    when: Condition
    severity: str
    title: str
    message: str
    description: str = ""
    escalations: tuple[Escalation, ...] = ()
    recipients: tuple[str, ...] = (CSM,)
    dedup_key: str = "{rule}:{account_id}"
    cooldown_days: int = 7
    auto_resolve: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    template_fields: frozenset[str] = frozenset()

    @property
    def fields(self) -> frozenset[str]:
        """Every snapshot field the rule reads (shown with the alert as its evidence)."""
        names = set(self.when.fields) | {name for name in self.template_fields if name in FIELDS}
        for escalation in self.escalations:
            names |= escalation.when.fields
        return frozenset(names)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    sources: tuple[str, ...] = ()

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)


def parse_rule(raw: Mapping[str, Any], where: str = "rules") -> Rule:
    """One rule from its TOML table, validated; errors name the rule and the field."""
    name = raw.get("name")
    label = f"{where}: rule {name!r}" if isinstance(name, str) else f"{where}: a rule"
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise RuleError(f"{label}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(RULE_KEYS))})")
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise RuleError(f"{label}, field {key!r}: is required")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RuleError(f"{label}, field 'name': use lower-case letters, digits and _ (at most 64)")

    def fail(key: str, problem: str) -> RuleError:
        return RuleError(f"{label}, field {key!r}: {problem}")

    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise fail("params", "must be a table of name = value")
    for key, value in params.items():
        if key in FIELDS or key in TEMPLATE_EXTRAS or not key.isidentifier():
            raise fail("params", f"{key!r} is not a usable name (it is a field, reserved or not an identifier)")
        if not isinstance(value, bool | int | float | str | list):
            raise fail("params", f"{key!r} must be a number, string, boolean or list")

    def condition(key: str, source: Any) -> Condition:
        try:
            return Condition.parse(source, params)
        except RuleError as error:
            raise fail(key, str(error)) from None

    def severity(key: str, value: Any) -> str:
        if value not in SEVERITY_RANK:
            raise fail(key, f"{value!r} is not one of {', '.join(SEVERITIES)}")
        return value

    when = condition("when", raw["when"])
    base = severity("severity", raw["severity"])
    escalations = []
    escalate = raw.get("escalate", [])
    if not isinstance(escalate, list) or not all(isinstance(item, dict) for item in escalate):
        raise fail("escalate", "must be a list of tables with when and severity")
    for number, item in enumerate(escalate, start=1):
        key = f"escalate[{number}]"
        if set(item) != {"when", "severity"}:
            raise fail(key, "needs exactly the keys when and severity")
        level = severity(f"{key}.severity", item["severity"])
        if SEVERITY_RANK[level] <= SEVERITY_RANK[base]:
            raise fail(f"{key}.severity", f"{level!r} must be higher than the rule's severity {base!r}")
        escalations.append(Escalation(when=condition(f"{key}.when", item["when"]), severity=level))

    recipients = raw.get("recipients", [CSM])
    if not isinstance(recipients, list) or not recipients:
        raise fail("recipients", "must be a non-empty list")
    for recipient in recipients:
        if not isinstance(recipient, str) or not (
            recipient in (CSM, TEAM) or re.fullmatch(r"[^@\s]+@[^@\s]+", recipient)
        ):
            raise fail("recipients", f"{recipient!r} is not 'csm', 'team' or an e-mail address")

    cooldown = raw.get("cooldown_days", 7)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        raise fail("cooldown_days", f"{cooldown!r} must be a whole number of days >= 0")
    for key in ("auto_resolve", "enabled"):
        if not isinstance(raw.get(key, True), bool):
            raise fail(key, "must be true or false")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be a text")

    allowed = set(FIELDS) | set(params) | set(TEMPLATE_EXTRAS)
    names: set[str] = set()
    texts = {key: raw.get(key, "{rule}:{account_id}") for key in ("title", "message", "dedup_key")}
    for key, template in texts.items():
        try:
            names |= _template_names(template, allowed)
        except RuleError as error:
            raise fail(key, str(error)) from None
    if "{account_id}" not in texts["dedup_key"]:
        raise fail("dedup_key", "must contain {account_id}: an alert belongs to one account")
    return Rule(
        name=name,
        when=when,
        severity=base,
        title=texts["title"],
        message=texts["message"],
        description=description,
        escalations=tuple(escalations),
        recipients=tuple(recipients),
        dedup_key=texts["dedup_key"],
        cooldown_days=cooldown,
        auto_resolve=raw.get("auto_resolve", True),
        params=params,
        template_fields=frozenset(names),
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise RuleError(f"{path}: cannot read the rules file ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"{path}: not valid TOML ({error})") from None


def _tables(document: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    unknown = sorted(set(document) - {"rules", "replace_defaults"})
    if unknown:
        raise RuleError(f"{where}: unknown top-level key(s) {', '.join(unknown)} (expected [[rules]] tables)")
    tables = document.get("rules", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise RuleError(f"{where}: 'rules' must be an array of tables ([[rules]])")
    return tables


def load_rules(path: Path | None = None, defaults: Path = DEFAULT_RULES_FILE) -> RuleSet:
    """The default rules overlaid with the user's file (same name replaces, `enabled = false` drops)."""
    merged: dict[str, dict[str, Any]] = {}
    sources: list[str] = []
    documents = [(defaults, _read(defaults))]
    if path is not None:
        documents.append((path, _read(path)))
    for source, document in documents:
        where = str(source)
        if document.get("replace_defaults") is True:
            merged.clear()
        seen: set[str] = set()
        for table in _tables(document, where):
            name = table.get("name")
            if isinstance(name, str):
                if name in seen:
                    raise RuleError(f"{where}: rule {name!r} is defined twice")
                seen.add(name)
            rule = parse_rule(table, where)  # validates (also rules that end up disabled)
            merged[rule.name] = table
        sources.append(where)
    rules = tuple(parse_rule(table) for table in merged.values() if table.get("enabled", True))
    return RuleSet(rules=rules, sources=tuple(sources))


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiredAlert:
    """A rule met by an account in this snapshot, with its plain-language title and message."""

    account_id: str
    rule: str
    severity: str
    dedup_key: str
    title: str
    message: str
    recipients: tuple[str, ...]
    details: dict[str, Any]


def _plain(value: Any) -> Any:
    """JSON-ready evidence: NaN -> None, numpy -> Python, dates -> ISO text."""
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value]
    return value


def evaluate_rules(snapshot: pd.DataFrame, rules: RuleSet | Iterable[Rule]) -> list[FiredAlert]:
    """Every rule over every account at once (one boolean mask per rule); formats only the rows that fired."""
    frame = snapshot.reset_index(drop=True)
    if ACCOUNT_ID not in frame.columns:
        raise RuleError(f"the snapshot needs an {ACCOUNT_ID!r} column")
    if ACCOUNT_NAME in frame.columns:
        frame[ACCOUNT_NAME] = frame[ACCOUNT_NAME].where(frame[ACCOUNT_NAME].notna(), frame[ACCOUNT_ID])
    else:
        frame[ACCOUNT_NAME] = frame[ACCOUNT_ID]
    fired: list[FiredAlert] = []
    for rule in rules:
        met = rule.when.evaluate(frame)
        if not met.any():
            continue
        rank = np.full(len(frame), SEVERITY_RANK[rule.severity])
        for escalation in rule.escalations:
            rank = np.where(escalation.when.evaluate(frame), np.maximum(rank, SEVERITY_RANK[escalation.severity]), rank)
        columns = sorted((rule.fields | {ACCOUNT_ID, ACCOUNT_NAME}) & set(frame.columns))
        rows = frame.loc[met, columns]
        absent = {name: None for name in rule.fields if name not in frame.columns}
        for record, level in zip(rows.to_dict("records"), rank[met], strict=True):
            severity = SEVERITIES[level]
            values = {**absent, **record, **rule.params, "rule": rule.name, "severity": severity}
            evidence = {name: _plain(values[name]) for name in sorted(rule.fields)}
            fired.append(
                FiredAlert(
                    account_id=str(record[ACCOUNT_ID]),
                    rule=rule.name,
                    severity=severity,
                    dedup_key=_FORMATTER.vformat(rule.dedup_key, (), values),
                    title=_FORMATTER.vformat(rule.title, (), values),
                    message=_FORMATTER.vformat(rule.message, (), values),
                    recipients=rule.recipients,
                    details=evidence,
                )
            )
    return fired
