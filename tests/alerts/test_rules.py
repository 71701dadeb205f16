"""Alert rules: validation on load names the rule and field; evaluation is vectorised and treats missing as not met."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alerts.rules import Condition, RuleError, evaluate_rules, load_rules, parse_rule

RULE = {
    "name": "sample",
    "when": "score < 50",
    "severity": "warning",
    "title": "{account_name} is low",
    "message": "{account_name} scores {score:.0f}",
}


def rule(**changes: object) -> dict[str, object]:
    return {**RULE, **changes}


def snapshot() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "account_name": ["Acme", "Beta", None, "Delta"],
            "band": ["red", "yellow", "green", None],
            "score": [30.0, 55.0, 85.0, np.nan],
            "trend_30d": [-20.0, -16.0, 2.0, np.nan],
            "days_to_renewal": [45.0, 100.0, 20.0, 60.0],
            "renewal_date": pd.to_datetime(["2026-03-01", "2026-05-01", "2026-02-05", "2026-03-16"]),
            "arr": [50_000.0, 20_000.0, 10_000.0, 5_000.0],
            "seats": [10.0, 10.0, 10.0, np.nan],
            "seat_utilisation": [0.3, 0.95, 0.6, np.nan],
            "active_users_28d": [3.0, 9.5, 6.0, np.nan],
            "touches_90d": [2.0, 7.0, 0.0, np.nan],
            "champion_active_30d": [0.0, np.nan, 1.0, np.nan],
            "lifecycle_stage": ["silent", "active", "active", "sleeping"],
            "previous_stage": ["active", "active", None, "silent"],
            "tags": [["vip"], [], None, ["vip", "eu"]],
        }
    )


def fired(frame: pd.DataFrame, **kwargs: object) -> dict[str, str]:
    return {alert.account_id: alert.severity for alert in evaluate_rules(frame, [parse_rule(rule(**kwargs))])}


def test_default_rules_load_and_cover_the_design():
    names = load_rules().names
    assert set(names) == {
        "renewal_risk",
        "health_drop",
        "usage_anomaly",
        "seat_underuse",
        "expansion_signal",
        "champion_inactive",
        "lifecycle_change",
        "few_touches",
    }


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"when": "scroe < 50"}, "'when'", "unknown field 'scroe'"),
        ({"when": "score"}, "'when'", "is a number, not a condition"),
        ({"when": "band < 3"}, "'when'", "cannot compare band (text) with 3 (number)"),
        ({"when": "__import__('os').system('true')"}, "'when'", "only the functions"),
        ({"when": "score.real < 3"}, "'when'", "Attribute is not allowed"),
        ({"when": "score <"}, "'when'", "syntax error"),
        ({"severity": "urgent"}, "'severity'", "'urgent' is not one of info, warning, high, critical"),
        ({"escalate": [{"when": "score < 20", "severity": "info"}]}, "'escalate[1].severity'", "must be higher"),
        ({"title": "{account_nam} low"}, "'title'", "unknown field {account_nam}"),
        ({"message": "{account_name.__class__}"}, "'message'", "plain name"),
        ({"dedup_key": "{rule}"}, "'dedup_key'", "must contain {account_id}"),
        ({"recipients": ["nobody"]}, "'recipients'", "'nobody' is not 'csm', 'team' or an e-mail address"),
        ({"cooldown_days": -1}, "'cooldown_days'", "whole number of days"),
        ({"sevrity": "info"}, "", "unknown key(s) sevrity"),
    ],
)
def test_a_broken_rule_is_refused_naming_the_rule_and_field(changes: dict, field: str, problem: str):
    with pytest.raises(RuleError) as raised:
        parse_rule(rule(**changes), "my_rules.toml")
    message = str(raised.value)
    assert "my_rules.toml: rule 'sample'" in message
    assert field in message
    assert problem in message


def test_a_missing_required_field_is_named():
    raw = dict(RULE)
    del raw["when"]
    with pytest.raises(RuleError, match="rule 'sample', field 'when': is required"):
        parse_rule(raw)


def test_the_users_file_overrides_disables_and_adds(tmp_path: Path):
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[[rules]]
name = "health_drop"
when = "trend_30d <= -5"
severity = "high"
title = "drop {account_name}"
message = "{trend_30d}"

[[rules]]
name = "expansion_signal"
enabled = false
when = "score > 0"
severity = "info"
title = "x {account_id}"
message = "x"

[[rules]]
name = "vip_red"
when = "'vip' in tags and band == 'red'"
severity = "critical"
recipients = ["csm", "vip-desk@cs.example"]
title = "VIP red: {account_name}"
message = "{account_name} is red"
""",
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert "expansion_signal" not in rules.names
    assert "vip_red" in rules.names
    drop = next(item for item in rules if item.name == "health_drop")
    assert drop.severity == "high"
    assert str(path) in rules.sources


def test_a_broken_users_file_says_which_file(tmp_path: Path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nname = "x"\nwhen = "score <"\n', encoding="utf-8")
    with pytest.raises(RuleError, match=r"rules.toml: not valid TOML|rules.toml: rule 'x', field"):
        load_rules(path)
    path.write_text("[[rules]\n", encoding="utf-8")
    with pytest.raises(RuleError, match="not valid TOML"):
        load_rules(path)


def test_missing_values_are_not_met_even_under_not_and_not_equal():
    frame = snapshot()
    assert Condition.parse("score < 50").evaluate(frame).tolist() == [True, False, False, False]
    assert Condition.parse("not (score >= 50)").evaluate(frame).tolist() == [True, False, False, False]
    assert Condition.parse("band != 'green'").evaluate(frame).tolist() == [True, True, False, False]
    assert Condition.parse("not champion_active_30d").evaluate(frame).tolist() == [True, False, False, False]
    assert Condition.parse("missing(score)").evaluate(frame).tolist() == [False, False, False, True]
    assert Condition.parse("'vip' in tags").evaluate(frame).tolist() == [True, False, False, True]
    assert Condition.parse("0 < days_to_renewal <= 60").evaluate(frame).tolist() == [True, False, True, True]


def test_churn_probability_falls_back_to_the_band_while_missing():
    frame = snapshot()
    when = "days_to_renewal <= 120 and (churn_probability_renewal >= 0.5 or band == 'red')"
    assert fired(frame, when=when) == {"a": "warning"}  # no churn column at all: the red band decides
    frame["churn_probability_renewal"] = [np.nan, 0.7, 0.1, np.nan]
    assert fired(frame, when=when) == {"a": "warning", "b": "warning"}


def test_default_rules_fire_with_reasons_and_numbers():
    frame = snapshot()
    alerts = {(alert.rule, alert.account_id): alert for alert in evaluate_rules(frame, load_rules())}
    renewal = alerts[("renewal_risk", "a")]
    assert renewal.severity == "high"
    assert renewal.title == "Renewal at risk: Acme renews in 45 days"
    assert "2026-03-01" in renewal.message
    assert "ARR 50,000" in renewal.message
    assert renewal.dedup_key == "renewal_risk:a:2026-03-01"
    assert renewal.recipients == ("csm", "team")
    assert renewal.details["days_to_renewal"] == 45
    assert ("renewal_risk", "c") not in alerts  # green and no churn forecast
    assert alerts[("health_drop", "a")].severity == "high"  # escalated: red
    assert alerts[("health_drop", "b")].severity == "warning"
    assert "30%" in alerts[("seat_underuse", "a")].title
    assert ("expansion_signal", "b") in alerts
    assert ("champion_inactive", "a") in alerts
    assert ("champion_inactive", "b") not in alerts  # unknown champion: not met
    assert alerts[("lifecycle_change", "a")].title == "Lifecycle change: Acme moved from active to silent"
    assert alerts[("lifecycle_change", "d")].severity == "warning"  # to sleeping
    assert alerts[("few_touches", "a")].severity == "high"
    assert ("few_touches", "b") not in alerts  # seven touches
    assert ("usage_anomaly", "a") not in alerts  # no forecast yet


def test_an_account_without_a_name_is_named_by_its_id():
    frame = snapshot()
    alerts = evaluate_rules(frame, [parse_rule(rule(when="band == 'green'"))])
    assert [alert.title for alert in alerts] == ["c is low"]


def test_escalation_raises_the_severity_of_matching_rows_only():
    severities = fired(snapshot(), when="score < 60", escalate=[{"when": "band == 'red'", "severity": "critical"}])
    assert severities == {"a": "critical", "b": "warning"}
