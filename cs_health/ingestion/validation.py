"""Vectorised validation of imported records against the data contract.

Each field is coerced for every record at once (pandas/Arrow kernels, no per-row Python on the hot kinds);
a record that breaks any rule is rejected with its location, field and reason, and the good records go on.
This is the one home of the contract's rules and messages; items.py only recognises events that plainly pass.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cs_health.exceptions import InvalidInput
from cs_health.ingestion.columns import as_numpy
from cs_health.ingestion.contract import FieldSpec, FieldType, KindSpec
from cs_health.ingestion.readers import RawTable
from cs_health.ingestion.rejects import Reject

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
FUTURE_TOLERANCE = dt.timedelta(days=1)
PREVIEW = 60

Reason = Callable[[Any], str]


# PostgreSQL stores no U+0000 in text or JSON; refused on SQLite too, so both databases accept the same records.
NUL_REASON = "contains a NUL character (U+0000), which cannot be stored"


@dataclass
class Check:
    """Records where `failed` holds break `field`; `reason(raw value)` says how, in plain words."""

    failed: np.ndarray
    field: str
    reason: Reason


@dataclass
class Validated:
    frame: pd.DataFrame
    locations: np.ndarray
    location_label: str
    rejects: list[Reject] = field(default_factory=list)
    rejected_records: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    present_columns: list[str] = field(default_factory=list)


def _preview(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= PREVIEW else text[:PREVIEW] + "…")


def _missing(values: pd.Series) -> np.ndarray:
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("string").str.strip()
        return (values.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    return values.isna().to_numpy(dtype=bool)


def _missing_after(typed: pd.Series, raw: pd.Series, spec: FieldSpec) -> np.ndarray:
    """Where a required field is missing: text fields already hold None for missing or blank values (stripping
    two million values again costs a tenth of a second per field), other types look at the raw value."""
    if COERCERS[spec.type] is _coerce_text:
        return typed.isna().to_numpy(dtype=bool)
    return _missing(raw)


def _as_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Strings stripped, missing as NA; numbers are accepted as text, objects and lists are not."""
    not_scalar = np.zeros(len(values), dtype=bool)
    if values.dtype == object:
        kinds = values.map(lambda item: isinstance(item, (dict, list)))
        not_scalar = kinds.to_numpy(dtype=bool)
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    return text, not_scalar


def _coerce_text(values: pd.Series, spec: FieldSpec) -> tuple[pd.Series, list[Check]]:
    text, not_scalar = _as_text(values)
    too_long = _longer_than(text, spec.max_length)
    with_nul = text.str.contains("\x00", regex=False).to_numpy(dtype=bool, na_value=False)
    checks = [
        Check(not_scalar, spec.name, lambda _: "must be text, not a list or object"),
        Check(too_long, spec.name, lambda v: f"longer than {spec.max_length} characters ({len(str(v))})"),
        Check(with_nul, spec.name, lambda _: NUL_REASON),
    ]
    if spec.type is FieldType.EMAIL:
        bad = ~text.str.match(EMAIL_PATTERN).to_numpy(dtype=bool, na_value=True) & text.notna().to_numpy()
        checks.append(Check(bad, spec.name, lambda v: f"not an e-mail address: {_preview(v)}"))
    if spec.type is FieldType.CHOICE:
        text = text.str.lower()
        bad = (~text.isin(spec.choices) & text.notna()).to_numpy(dtype=bool)
        choices = "|".join(spec.choices)
        checks.append(Check(bad, spec.name, lambda v: f"{_preview(v)} is not one of {choices}"))
    return text, checks


def _longer_than(text: pd.Series, limit: int) -> np.ndarray:
    """Where a value has more than `limit` characters, by Arrow's kernel: pandas' str.len builds a nullable Int64
    series first, five times the cost over two million values."""
    longer = pc.greater(pc.utf8_length(pa.array(text, type=pa.string())), limit)
    return pc.fill_null(longer, False).to_numpy(zero_copy_only=False)


def parse_timestamps(values: pd.Series) -> np.ndarray:
    """datetime64[us] of a timestamp field's raw values as validation reads them, NaT where one does not parse."""
    parsed, _ = _coerce_timestamp(values, FieldSpec("timestamp", FieldType.TIMESTAMP))
    return parsed.to_numpy(dtype="datetime64[us]")


def _coerce_timestamp(values: pd.Series, spec: FieldSpec) -> tuple[pd.Series, list[Check]]:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = np.zeros(len(values), dtype=bool)
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed, bad = values, np.zeros(len(values), dtype=bool)
    else:
        text, _ = _as_text(values)
        parsed = _parse_timestamps_with_arrow(text)
        if parsed is None:
            parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601").dt.tz_localize(None)
        bad = (parsed.isna() & text.notna()).to_numpy(dtype=bool)
    parsed = parsed.astype("datetime64[us]")
    if spec.type is FieldType.DATE:
        parsed = parsed.dt.normalize()
        label = "not an ISO 8601 date (YYYY-MM-DD)"
    else:
        label = "not an ISO 8601 timestamp"
    return parsed, [Check(bad, spec.name, lambda v: f"{label}: {_preview(v)}")]


def _parse_timestamps_with_arrow(text: pd.Series) -> pd.Series | None:
    """Naive-UTC timestamps when every value parses as ISO 8601 through Arrow's cast, all with a zone (Z, ±hh:mm)
    or all without (taken as UTC), as pandas reads them, at a tenth of its cost; None otherwise (a mix, or a
    value Arrow refuses), and pandas then parses the column value by value and finds the bad ones."""
    array = pa.array(text, type=pa.string())
    for target in (pa.timestamp("us", "UTC"), pa.timestamp("us")):
        try:
            stamps = pc.cast(array, target)
        except pa.ArrowInvalid:
            continue
        naive = stamps.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
        return pd.Series(naive, index=text.index)
    return None


def _parse_numbers(values: pd.Series) -> pd.Series:
    """float64, NaN where a value is missing or not a number. A file's text column goes through Arrow's parser
    when all of it parses (ten times faster than to_numeric); anything else, value by value through pandas."""
    if values.dtype != object and pd.api.types.is_string_dtype(values.dtype):
        parsed = _parse_all_with_arrow(values)
        if parsed is not None:
            return parsed
    text = values.astype("string").str.strip() if values.dtype == object else values
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _parse_all_with_arrow(values: pd.Series) -> pd.Series | None:
    """None when some value is not a number (pandas then finds which)."""
    text = pc.utf8_trim_whitespace(pa.array(values))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    try:
        parsed = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return None
    return pd.Series(parsed + 0.0, index=values.index)  # + 0.0: "-0" is 0, as pandas reads it


def _coerce_number(values: pd.Series, spec: FieldSpec) -> tuple[pd.Series, list[Check]]:
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype(object)
    numbers = _parse_numbers(values)
    present = ~_missing(values)
    bad = (present & ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))).astype(bool)
    noun = "a whole number" if spec.type is FieldType.INTEGER else "a number"
    checks = [Check(bad, spec.name, lambda v: f"not {noun}: {_preview(v)}")]
    array = numbers.to_numpy(dtype=float, na_value=np.nan)
    ok = present & ~bad
    if spec.type is FieldType.INTEGER:
        fractional = ok & (np.floor(np.nan_to_num(array)) != np.nan_to_num(array))
        checks.append(Check(fractional, spec.name, lambda v: f"not a whole number: {_preview(v)}"))
    if spec.minimum is not None:
        low = ok & (np.nan_to_num(array, nan=spec.minimum) < spec.minimum)
        checks.append(Check(low, spec.name, lambda v: f"must be at least {spec.minimum:g} (got {_preview(v)})"))
    if spec.maximum is not None:
        high = ok & (np.nan_to_num(array, nan=spec.maximum) > spec.maximum)
        checks.append(Check(high, spec.name, lambda v: f"must be at most {spec.maximum:g} (got {_preview(v)})"))
    return numbers, checks


def _coerce_tags(values: pd.Series, spec: FieldSpec) -> tuple[pd.Series, list[Check]]:
    def split(item: Any) -> list[str] | None:
        if item is None or (isinstance(item, float) and np.isnan(item)):
            return None
        parts = item if isinstance(item, list) else str(item).split(";")
        tags = [str(part).strip() for part in parts if str(part).strip()]
        return tags or None

    return values.astype(object).map(split), []


def canonical_json(value: dict[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8: identical properties give identical text (and so identical event keys)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:  # an integer beyond 64 bits: valid JSON that orjson will not write
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _coerce_json_object(values: pd.Series, spec: FieldSpec) -> tuple[pd.Series, list[Check]]:
    """Canonical JSON text (sorted keys) or None, so identical properties hash identically."""

    def parse(item: Any) -> str | None:
        if _is_blank(item):  # None, NaN, pd.NA (a text column's missing value) or blank text
            return None
        value = orjson.loads(item) if isinstance(item, str) else item
        if not isinstance(value, dict):
            raise TypeError
        return canonical_json(value)

    results: list[str | None] = []
    bad = np.zeros(len(values), dtype=bool)
    for position, item in enumerate(values.astype(object)):
        try:
            results.append(parse(item))
        except (ValueError, TypeError, orjson.JSONDecodeError):
            results.append(None)
            bad[position] = True
    parsed = pd.Series(results, index=values.index, dtype=object)
    return parsed, [
        Check(bad, spec.name, lambda v: f"not a JSON object: {_preview(v)}"),
        _json_nul_check(parsed, spec.name),
    ]


def _json_nul_check(canonical: pd.Series, name: str) -> Check:
    """Canonical JSON spells U+0000 (in a key or a value) as an escape."""
    with_nul = np.array([text is not None and "\\u0000" in text for text in canonical], dtype=bool)
    return Check(with_nul, name, lambda _: NUL_REASON)


COERCERS: dict[FieldType, Callable[[pd.Series, FieldSpec], tuple[pd.Series, list[Check]]]] = {
    FieldType.TEXT: _coerce_text,
    FieldType.EMAIL: _coerce_text,
    FieldType.CHOICE: _coerce_text,
    FieldType.TIMESTAMP: _coerce_timestamp,
    FieldType.DATE: _coerce_timestamp,
    FieldType.NUMBER: _coerce_number,
    FieldType.INTEGER: _coerce_number,
    FieldType.TAGS: _coerce_tags,
    FieldType.JSON_OBJECT: _coerce_json_object,
}


def _check_columns(raw: RawTable, spec: KindSpec, source: str) -> None:
    present = set(raw.frame.columns)
    missing = [name for name in spec.required if name not in present]
    if spec.name == "subscriptions" and not {"mrr", "arr"} & present:
        missing.append("mrr (or arr)")
    if missing and (len(raw.frame) or present):
        columns = ", ".join(sorted(present)) or "none"
        label = "line 1" if raw.location_label == "line" and present else "columns"
        raise InvalidInput(
            f"{source}: {label}: required column(s) {', '.join(missing)} missing (found: {columns})",
            missing=missing,
        )


def validate(
    raw: RawTable,
    spec: KindSpec,
    *,
    now: dt.datetime,
    known_accounts: set[str] | None = None,
    source: str = "input",
) -> Validated:
    """Typed, valid records plus a reject for every rule a record breaks (records keep their file order)."""
    _check_columns(raw, spec, source)
    frame = raw.frame
    typed: dict[str, pd.Series] = {}
    checks: list[Check] = []
    for field_spec in spec.fields:
        if field_spec.name not in frame.columns:
            typed[field_spec.name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            continue
        values, field_checks = COERCERS[field_spec.type](frame[field_spec.name], field_spec)
        typed[field_spec.name] = values
        checks.extend(field_checks)
        if field_spec.required:
            missing = _missing_after(values, frame[field_spec.name], field_spec)
            checks.append(Check(missing, field_spec.name, lambda _: "is required but empty"))
    result = pd.DataFrame(typed, index=frame.index, copy=False)  # the typed columns are new, nothing to protect
    extras = [name for name in frame.columns if name not in spec.field_names]
    checks.extend(KIND_RULES.get(spec.name, _no_rules)(result, now))
    if known_accounts is not None and spec.account_must_exist and "account_id" in result:
        unknown = (~result["account_id"].isin(known_accounts) & result["account_id"].notna()).to_numpy(dtype=bool)
        checks.append(Check(unknown, "account_id", lambda v: f"unknown account {_preview(v)}; import accounts first"))
    if spec.extras_are_properties and extras:
        result["properties"] = _merge_extras(result["properties"], frame[extras])
        checks.append(_json_nul_check(result["properties"], "properties"))
    failed = np.zeros(len(frame), dtype=bool)
    for check in checks:
        failed |= check.failed
    first_failure = _first_failure_rejects(frame, raw.locations, checks)
    if spec.key and all(name in result for name in spec.key) and spec.name != "events":
        duplicate_rejects, duplicated = _duplicate_keys(result, raw.locations, spec, failed, frame)
        first_failure.extend(duplicate_rejects)
        failed |= duplicated
    good = result.loc[~failed].reset_index(drop=True)
    if spec.name != "events":  # events keep Arrow strings, which the event store takes as they are (ingestion.columns)
        good = _text_as_objects(good)
    rejects = sorted([*raw.rejects, *first_failure], key=lambda reject: reject.location)
    return Validated(
        frame=good,
        locations=raw.locations[~failed],
        location_label=raw.location_label,
        rejects=rejects,
        rejected_records=int(failed.sum()) + len(raw.rejects),
        ignored_columns=[] if spec.extras_are_properties else extras,
        present_columns=[name for name in spec.field_names if name in frame.columns],
    )


def _text_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python strings with None where absent, as the other kinds' upserts bind them (through Arrow:
    a quarter of the cost of pandas' astype and where)."""
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.StringDtype):
            frame[name] = pd.Series(as_numpy(pa.array(frame[name])), index=frame.index, dtype=object)
    return frame


def _first_failure_rejects(frame: pd.DataFrame, locations: np.ndarray, checks: list[Check]) -> list[Reject]:
    rejects: list[Reject] = []
    for check in checks:
        for position in np.flatnonzero(check.failed):
            value = frame[check.field].iloc[position] if check.field in frame.columns else None
            record = {key: _plain(item) for key, item in frame.iloc[position].items()}
            rejects.append(Reject(int(locations[position]), check.field, check.reason(value), record))
    return rejects


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return None if value is pd.NA else value


def _duplicate_keys(
    result: pd.DataFrame, locations: np.ndarray, spec: KindSpec, failed: np.ndarray, frame: pd.DataFrame
) -> tuple[list[Reject], np.ndarray]:
    """A second record with the same id in one file is refused: which of the two is right is the user's call."""
    keyed = result[list(spec.key)].astype(str)
    usable = ~failed & result[list(spec.key)].notna().all(axis=1).to_numpy()
    candidates = np.flatnonzero(usable)
    duplicated = np.zeros(len(result), dtype=bool)
    duplicated[candidates] = keyed.iloc[candidates].duplicated(keep="first").to_numpy()
    if not duplicated.any():
        return [], duplicated
    first_location = {
        tuple(row): int(locations[position])
        for position, row in enumerate(keyed.itertuples(index=False))
        if usable[position] and not duplicated[position]
    }
    rejects = []
    for position in np.flatnonzero(duplicated):
        key = tuple(keyed.iloc[position])
        record = {name: _plain(item) for name, item in frame.iloc[position].items()}
        reason = f"duplicate {'/'.join(spec.key)} {_preview('/'.join(key))} (first at {first_location.get(key)})"
        rejects.append(Reject(int(locations[position]), spec.key[0], reason, record))
    return rejects, duplicated


def _merge_extras(properties: pd.Series, extras: pd.DataFrame) -> pd.Series:
    """Unknown event columns are kept as properties, so nothing a customer sends is silently lost."""
    merged: list[str | None] = []
    for existing, row in zip(properties, extras.to_dict("records"), strict=True):
        values = orjson.loads(existing) if existing else {}
        extras = {key: _plain(item) for key, item in row.items() if not _is_blank(item)}
        values.update(extras)
        merged.append(canonical_json(values) if extras else existing)  # a record's own value, whatever its neighbours
    return pd.Series(merged, index=properties.index, dtype=object)


def _is_blank(item: Any) -> bool:
    if item is None or item is pd.NA:
        return True
    if isinstance(item, float):
        return bool(np.isnan(item))
    return isinstance(item, str) and not item.strip()


def _no_rules(result: pd.DataFrame, now: dt.datetime) -> list[Check]:
    return []


def _order_check(result: pd.DataFrame, early: str, late: str, strict: bool) -> Check:
    later, earlier = result[late], result[early]
    both = later.notna() & earlier.notna()
    wrong = (later <= earlier) if strict else (later < earlier)
    relation = "after" if strict else "on or after"
    return Check((both & wrong).to_numpy(dtype=bool), late, lambda v: f"must be {relation} {early} (got {_preview(v)})")


def _subscription_rules(result: pd.DataFrame, now: dt.datetime) -> list[Check]:
    no_money = (result["mrr"].isna() & result["arr"].isna()).to_numpy(dtype=bool)
    result["arr"] = result["arr"].astype(float).fillna(result["mrr"].astype(float) * 12)
    result["mrr"] = result["mrr"].astype(float).fillna(result["arr"] / 12)
    result["status"] = result["status"].fillna("active")
    start_text = pd.Series(result["start_date"]).dt.strftime("%Y-%m-%d")
    result["subscription_id"] = result["subscription_id"].where(
        result["subscription_id"].notna(), result["account_id"].astype(str) + ":" + start_text
    )
    return [
        Check(no_money, "mrr", lambda _: "needs mrr or arr"),
        _order_check(result, "start_date", "end_date", strict=True),
    ]


def _event_rules(result: pd.DataFrame, now: dt.datetime) -> list[Check]:
    result["quantity"] = result["quantity"].astype(float).fillna(1.0)
    limit = np.datetime64(now.replace(tzinfo=None) + FUTURE_TOLERANCE, "us")
    future = (result["timestamp"] > limit).to_numpy(dtype=bool)
    return [Check(future, "timestamp", lambda v: f"is more than a day in the future: {_preview(v)}")]


def _ticket_rules(result: pd.DataFrame, now: dt.datetime) -> list[Check]:
    result["priority"] = result["priority"].fillna("normal")
    return [_order_check(result, "opened_at", "closed_at", strict=False)]


KIND_RULES: dict[str, Callable[[pd.DataFrame, dt.datetime], list[Check]]] = {
    "subscriptions": _subscription_rules,
    "events": _event_rules,
    "tickets": _ticket_rules,
}
