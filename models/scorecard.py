"""The health scorecard as code: measures -> groups -> total, bands and a version, read from TOML.

A CS team owns its scorecard (the default ships as default_scorecard.toml next to this module), so loading it
checks everything a typo could break and names the measure and field at fault in a ScorecardError.
"""

from __future__ import annotations

import itertools
import math
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from models.features import NUMERIC_FEATURES

DEFAULT_PATH = Path(__file__).with_name("default_scorecard.toml")
HIGHER_IS_BETTER, LOWER_IS_BETTER = "higher_is_better", "lower_is_better"
DIRECTIONS = (HIGHER_IS_BETTER, LOWER_IS_BETTER)
THRESHOLDS, PERCENTILE = "thresholds", "percentile"
METHODS = (THRESHOLDS, PERCENTILE)
MAX_POINTS = 100.0
_OVERRIDABLE = frozenset({"weight", "method", "thresholds", "direction"})
_MEASURE_KEYS = frozenset({"feature", "group", "weight", "direction", "method", "thresholds", "label", "text"})


class ScorecardError(ValueError):
    """The scorecard file is invalid; the message names the measure (or section) and the field."""


@dataclass(frozen=True)
class Measure:
    """One scored feature: how its raw value maps to 0-100 points and how much it counts in its group."""

    name: str
    feature: str
    group: str
    weight: float
    direction: str
    method: str
    thresholds: tuple[tuple[float, float], ...] = ()
    label: str = ""
    text: str = ""  # plain-language template, fields are feature names plus {raw} and {points}

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(value for value, _ in self.thresholds)

    @property
    def points(self) -> tuple[float, ...]:
        return tuple(points for _, points in self.thresholds)


@dataclass(frozen=True)
class Group:
    """A family of measures (adoption, engagement, ...) and its share of the total."""

    name: str
    weight: float
    label: str = ""


@dataclass(frozen=True)
class Band:
    """A score range [lower, upper); the top band includes its upper bound."""

    name: str
    lower: float
    upper: float


@dataclass(frozen=True)
class Scorecard:
    """A validated scorecard; build it with load_scorecard or parse_scorecard."""

    version: str
    groups: tuple[Group, ...]
    measures: tuple[Measure, ...]
    bands: tuple[Band, ...]  # ascending
    overrides: Mapping[str, tuple[Measure, ...]] = field(default_factory=dict)  # segment -> its measures

    def measures_for(self, segment: str | None) -> tuple[Measure, ...]:
        """The measures as they apply to one segment (its overrides replace the defaults)."""
        return self.overrides.get(str(segment), self.measures) if segment is not None else self.measures

    def group(self, name: str) -> Group:
        return next(group for group in self.groups if group.name == name)

    @property
    def target_band(self) -> Band:
        """The best band (green by default): the one the path to health aims for."""
        return self.bands[-1]

    def effective_weights(self, segment: str | None = None) -> dict[str, float]:
        """Each measure's share of the total in percent: group share x its share inside the group."""
        measures = self.measures_for(segment)
        group_total = sum(group.weight for group in self.groups if any(m.group == group.name for m in measures))
        weights: dict[str, float] = {}
        for group in self.groups:
            inside = [m for m in measures if m.group == group.name]
            total = sum(m.weight for m in inside)
            for m in inside:
                weights[m.name] = 100.0 * group.weight / group_total * m.weight / total
        return weights

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, stored beside every score so a result names the scorecard that produced it."""

        def measure(m: Measure) -> dict[str, Any]:
            return {
                "name": m.name,
                "feature": m.feature,
                "group": m.group,
                "weight": m.weight,
                "direction": m.direction,
                "method": m.method,
                "thresholds": [list(t) for t in m.thresholds],
                "label": m.label,
            }

        return {
            "version": self.version,
            "groups": [{"name": g.name, "weight": g.weight, "label": g.label} for g in self.groups],
            "measures": [measure(m) for m in self.measures],
            "bands": [{"name": b.name, "min": b.lower, "max": b.upper} for b in self.bands],
            "segments": {s: [measure(m) for m in ms] for s, ms in self.overrides.items()},
        }


def load_scorecard(path: str | Path | None = None) -> Scorecard:
    """Read and validate a scorecard TOML file; None loads the default that ships with cs-health."""
    source = Path(path) if path is not None else DEFAULT_PATH
    try:
        with source.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ScorecardError(f"{source}: not valid TOML: {error}") from error
    return parse_scorecard(document)


def parse_scorecard(document: Mapping[str, Any]) -> Scorecard:
    """Validate a scorecard given as a mapping (the parsed TOML); raises ScorecardError naming what is wrong."""
    version = document.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ScorecardError("version: a non-empty string is required")
    groups = _groups(document.get("groups"))
    raw_measures = document.get("measures")
    if not isinstance(raw_measures, Mapping) or not raw_measures:
        raise ScorecardError("measures: at least one measure is required")
    measures = tuple(_measure(name, spec, groups) for name, spec in raw_measures.items())
    for group in groups.values():
        if not any(m.group == group.name for m in measures):
            raise ScorecardError(f"group {group.name!r}: has no measures")
    overrides = _overrides(document.get("segments", {}), measures, groups)
    return Scorecard(
        version=version,
        groups=tuple(groups.values()),
        measures=measures,
        bands=_bands(document.get("bands")),
        overrides=overrides,
    )


def _positive(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ScorecardError(f"{where}: weight must be a positive number, got {value!r}")
    return float(value)


def _groups(raw: Any) -> dict[str, Group]:
    if not isinstance(raw, Mapping) or not raw:
        raise ScorecardError("groups: at least one group is required")
    groups: dict[str, Group] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise ScorecardError(f"group {name!r}: expected a table with a weight")
        groups[name] = Group(name, _positive(f"group {name!r}", spec.get("weight")), str(spec.get("label", name)))
    return groups


def _measure(name: str, spec: Any, groups: Mapping[str, Group]) -> Measure:
    where = f"measure {name!r}"
    if not isinstance(spec, Mapping):
        raise ScorecardError(f"{where}: expected a table")
    unknown = set(spec) - _MEASURE_KEYS
    if unknown:
        raise ScorecardError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    feature = spec.get("feature", name)
    if feature not in NUMERIC_FEATURES:
        raise ScorecardError(f"{where}: unknown feature {feature!r} (known: {', '.join(NUMERIC_FEATURES)})")
    group = spec.get("group")
    if group not in groups:
        raise ScorecardError(f"{where}: group {group!r} is not one of {', '.join(groups)}")
    text = str(spec.get("text", ""))
    _check_template(where, text)
    measure = Measure(
        name=name,
        feature=feature,
        group=group,
        weight=_positive(where, spec.get("weight", 1.0)),
        direction=spec.get("direction", HIGHER_IS_BETTER),
        method=spec.get("method", THRESHOLDS),
        thresholds=_pairs(where, spec.get("thresholds", ())),
        label=str(spec.get("label", name.replace("_", " ").capitalize())),
        text=text,
    )
    _check_scoring(measure)
    return measure


def _check_template(where: str, text: str) -> None:
    allowed = {*NUMERIC_FEATURES, "raw", "points"}
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise ScorecardError(f"{where}: text is not a valid template: {error}") from error
    unknown = {name for name in fields if name.split(".")[0].split("[")[0] not in allowed}
    if unknown:
        raise ScorecardError(f"{where}: text refers to unknown field(s) {', '.join(sorted(unknown))}")


def _pairs(where: str, raw: Any) -> tuple[tuple[float, float], ...]:
    try:
        pairs = tuple((float(value), float(points)) for value, points in raw)
    except (TypeError, ValueError) as error:
        raise ScorecardError(f"{where}: thresholds must be a list of [value, points] pairs") from error
    return pairs


def _check_scoring(measure: Measure) -> None:
    where = f"measure {measure.name!r}"
    if measure.direction not in DIRECTIONS:
        raise ScorecardError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}, got {measure.direction!r}")
    if measure.method not in METHODS:
        raise ScorecardError(f"{where}: method must be one of {', '.join(METHODS)}, got {measure.method!r}")
    if measure.method != THRESHOLDS:
        return
    values, points = measure.values, measure.points
    if len(values) < 2:
        raise ScorecardError(f"{where}: thresholds need at least two [value, points] breakpoints")
    if not all(math.isfinite(v) for v in (*values, *points)):
        raise ScorecardError(f"{where}: thresholds must be finite numbers")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ScorecardError(f"{where}: thresholds not monotonic: values must strictly increase, got {list(values)}")
    if any(not 0 <= p <= MAX_POINTS for p in points):
        raise ScorecardError(f"{where}: threshold points must lie in [0, 100], got {list(points)}")
    sign = 1 if measure.direction == HIGHER_IS_BETTER else -1
    if any(sign * (b - a) < 0 for a, b in itertools.pairwise(points)):
        order = "rise" if sign > 0 else "fall"
        raise ScorecardError(
            f"{where}: thresholds not monotonic: points must {order} with the value for {measure.direction}, "
            f"got {list(points)}"
        )


def _overrides(raw: Any, measures: tuple[Measure, ...], groups: Mapping[str, Group]) -> dict[str, tuple[Measure, ...]]:
    if not isinstance(raw, Mapping):
        raise ScorecardError("segments: expected a table of segment overrides")
    by_name = {m.name: m for m in measures}
    overrides: dict[str, tuple[Measure, ...]] = {}
    for segment, spec in raw.items():
        changes = spec.get("measures", {}) if isinstance(spec, Mapping) else None
        if not isinstance(changes, Mapping):
            raise ScorecardError(f"segment {segment!r}: expected [segments.{segment}.measures.<name>] tables")
        replaced = dict(by_name)
        for name, change in changes.items():
            where = f"segment {segment!r} measure {name!r}"
            if name not in by_name:
                raise ScorecardError(f"{where}: not a measure of the scorecard")
            if not isinstance(change, Mapping) or set(change) - _OVERRIDABLE:
                bad = sorted(set(change) - _OVERRIDABLE) if isinstance(change, Mapping) else change
                raise ScorecardError(f"{where}: only {', '.join(sorted(_OVERRIDABLE))} may be overridden, got {bad}")
            updated = replace(
                by_name[name],
                weight=_positive(where, change.get("weight", by_name[name].weight)),
                method=change.get("method", by_name[name].method),
                direction=change.get("direction", by_name[name].direction),
                thresholds=_pairs(where, change["thresholds"]) if "thresholds" in change else by_name[name].thresholds,
            )
            try:
                _check_scoring(updated)
            except ScorecardError as error:
                raise ScorecardError(f"segment {segment!r} {error}") from error
            replaced[name] = updated
        overrides[str(segment)] = tuple(replaced[m.name] for m in measures)
    return overrides


def _bands(raw: Any) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        raise ScorecardError("bands: at least one [[bands]] entry with name, min and max is required")
    bands = []
    for position, spec in enumerate(raw):
        try:
            band = Band(str(spec["name"]), float(spec["min"]), float(spec["max"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ScorecardError(f"bands[{position}]: needs name, min and max ({error})") from error
        if not band.lower < band.upper:
            raise ScorecardError(f"band {band.name!r}: min must be below max")
        bands.append(band)
    bands.sort(key=lambda b: b.lower)
    names = [b.name for b in bands]
    if len(set(names)) != len(names):
        raise ScorecardError(f"bands: names must be unique, got {names}")
    if bands[0].lower != 0 or bands[-1].upper != MAX_POINTS:
        raise ScorecardError(f"bands: must cover 0 to 100, they cover {bands[0].lower:g} to {bands[-1].upper:g}")
    for low, high in itertools.pairwise(bands):
        if high.lower != low.upper:
            kind = "overlap" if high.lower < low.upper else "gap"
            raise ScorecardError(
                f"bands {kind}: {low.name!r} ends at {low.upper:g}, {high.name!r} starts at {high.lower:g}"
            )
    return tuple(bands)
