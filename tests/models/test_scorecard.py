import copy
from pathlib import Path
from typing import Any

import pytest

from models.scorecard import DEFAULT_PATH, ScorecardError, load_scorecard, parse_scorecard

VALID: dict[str, Any] = {
    "version": "test-1",
    "bands": [
        {"name": "red", "min": 0, "max": 40},
        {"name": "yellow", "min": 40, "max": 70},
        {"name": "green", "min": 70, "max": 100},
    ],
    "groups": {"adoption": {"weight": 60}, "support": {"weight": 40}},
    "measures": {
        "seat_utilisation": {"group": "adoption", "thresholds": [[0.2, 0], [0.8, 100]]},
        "high_priority_tickets_90d": {
            "group": "support",
            "direction": "lower_is_better",
            "thresholds": [[0, 100], [4, 0]],
        },
    },
}


def doc(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(VALID)
    out.update(changes)
    return out


def test_the_default_scorecard_loads_with_green_yellow_red_bands():
    card = load_scorecard()
    assert card.version
    assert [(b.name, b.lower, b.upper) for b in card.bands] == [
        ("red", 0, 40),
        ("yellow", 40, 70),
        ("green", 70, 100),
    ]
    assert {g.name for g in card.groups} == {"adoption", "engagement", "relationship", "support", "commercial"}
    assert sum(card.effective_weights().values()) == pytest.approx(100)
    assert sum(card.effective_weights("enterprise").values()) == pytest.approx(100)
    assert load_scorecard(DEFAULT_PATH) == card


def test_a_valid_document_parses_and_weights_split_by_group():
    card = parse_scorecard(VALID)
    assert card.effective_weights() == {"seat_utilisation": 60.0, "high_priority_tickets_90d": 40.0}


def broken(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(VALID)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (broken(("measures", "seat_utilisation", "feature"), "seat_util"), r"'seat_utilisation'.*unknown feature"),
        (broken(("measures", "seat_utilisation", "weight"), 0), r"'seat_utilisation'.*weight must be a positive"),
        (broken(("measures", "seat_utilisation", "weight"), -1.5), r"'seat_utilisation'.*weight must be a positive"),
        (broken(("groups", "support", "weight"), 0), r"group 'support'.*weight must be a positive"),
        (
            broken(("measures", "seat_utilisation", "thresholds"), [[0.8, 0], [0.2, 100]]),
            r"'seat_utilisation'.*thresholds not monotonic",
        ),
        (
            broken(("measures", "seat_utilisation", "thresholds"), [[0.2, 100], [0.8, 0]]),
            r"'seat_utilisation'.*thresholds not monotonic.*higher_is_better",
        ),
        (
            broken(("measures", "high_priority_tickets_90d", "thresholds"), [[0, 0], [4, 100]]),
            r"'high_priority_tickets_90d'.*thresholds not monotonic.*lower_is_better",
        ),
        (broken(("measures", "seat_utilisation", "thresholds"), [[0.2, 0]]), r"at least two"),
        (broken(("measures", "seat_utilisation", "thresholds"), [[0.2, 0], [0.8, 120]]), r"\[0, 100\]"),
        (broken(("measures", "seat_utilisation", "group"), "nope"), r"'seat_utilisation'.*group 'nope'"),
        (broken(("measures", "seat_utilisation", "direction"), "up"), r"'seat_utilisation'.*direction"),
        (broken(("measures", "seat_utilisation", "method"), "magic"), r"'seat_utilisation'.*method"),
        (broken(("measures", "seat_utilisation", "colour"), "red"), r"'seat_utilisation'.*unknown field.*colour"),
        (broken(("measures", "seat_utilisation", "text"), "{no_such_feature}"), r"'seat_utilisation'.*unknown field"),
        (broken(("bands", 1, "max"), 75), r"bands overlap: 'yellow' ends at 75, 'green' starts at 70"),
        (broken(("bands", 1, "max"), 65), r"bands gap: 'yellow' ends at 65, 'green' starts at 70"),
        (broken(("bands", 0, "min"), 10), r"bands: must cover 0 to 100"),
        (broken(("version",), ""), r"version"),
        (doc(groups={"adoption": {"weight": 1}, "support": {"weight": 1}, "empty": {"weight": 1}}), r"'empty'.*no"),
        (
            doc(segments={"smb": {"measures": {"nps_latest": {"weight": 2}}}}),
            r"segment 'smb' measure 'nps_latest': not a measure",
        ),
        (
            doc(segments={"smb": {"measures": {"seat_utilisation": {"thresholds": [[1, 0], [0, 100]]}}}}),
            r"segment 'smb' measure 'seat_utilisation'.*not monotonic",
        ),
        (
            doc(segments={"smb": {"measures": {"seat_utilisation": {"group": "support"}}}}),
            r"segment 'smb' measure 'seat_utilisation': only",
        ),
    ],
)
def test_invalid_scorecards_name_the_measure_and_field(document: dict[str, Any], message: str):
    with pytest.raises(ScorecardError, match=message):
        parse_scorecard(document)


def test_scorecard_error_is_a_value_error_and_bad_toml_is_reported(tmp_path: Path):
    path = tmp_path / "card.toml"
    path.write_text("version = \n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_scorecard(path)


def test_segment_overrides_replace_only_what_they_name():
    card = parse_scorecard(doc(segments={"smb": {"measures": {"seat_utilisation": {"weight": 3}}}}))
    smb = {m.name: m for m in card.measures_for("smb")}
    assert smb["seat_utilisation"].weight == 3
    assert smb["seat_utilisation"].thresholds == card.measures[0].thresholds
    assert card.measures_for("enterprise") == card.measures
    assert card.to_dict()["segments"]["smb"][0]["weight"] == 3
