"""Config validation: the default center loads, and every bad field is named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cctwin.config import ConfigError, load_config, parse_config
from cctwin.config.models import FORECASTABLE_METRICS

PATH = Path("config/test.yaml")


def problems(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, PATH)
    message = str(caught.value)
    assert str(PATH) in message
    return message


def test_default_config_has_25_agreements_and_all_channels(default_config):
    assert [a.id for a in default_config.agreements] == list(range(1, 26))
    assert set(default_config.channels) == {
        "voice",
        "chat",
        "video",
        "virtual_call",
        "web_callback",
        "virtual_hold",
        "outbound",
    }
    forecastable = {a.metric for a in default_config.agreements if a.forecastable}
    assert forecastable == FORECASTABLE_METRICS


def test_tariff_table_reproduces_january_invoice(default_config):
    before_vat = sum(i.unit_price * i.quantity for i in default_config.tariffs.items)
    assert before_vat == pytest.approx(775_417_638.52, abs=0.01)
    with_vat = before_vat * (1 + default_config.tariffs.vat)
    assert with_vat == pytest.approx(922_746_989.84, abs=0.01)


def test_every_unknown_is_marked_as_an_assumption(default_config):
    marked = default_config.assumptions
    for needed in (
        "arrival_profile.intraday",
        "arrival_profile.weekday_share",
        "channels.voice.patience.mean_seconds",
        "channels.voice.handle_time.cv",
        "channels.chat.concurrency",
        "agent_groups.general.shifts",
        "agent_groups.general.breaks",
    ):
        assert needed in marked
        assert marked[needed].startswith(("assumed:", "fitted by scripts/calibrate.py"))


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda r: r["center"].update(timezone="Mars/Olympus"),
            ["center.timezone", "Mars/Olympus", "America/Bogota"],
        ),
        (
            lambda r: r["center"].update(interval_minutes=20),
            ["center.interval_minutes", "15", "30"],
        ),
        (
            lambda r: r["center"]["opening_hours"]["mon"].update(close="06:00"),
            ["center.opening_hours.mon", "after open"],
        ),
        (
            lambda r: r["center"]["opening_hours"]["mon"].update(open="7am"),
            ["center.opening_hours.mon", "HH:MM", "7am"],
        ),
        (lambda r: r["center"].update(colour="blue"), ["center.colour", "unknown key"]),
        (
            lambda r: r["channels"]["voice"].update(monthly_volume=-5),
            ["channels.voice.monthly_volume", "-5", "greater than or equal to 0"],
        ),
        (
            lambda r: r["channels"]["voice"]["handle_time"].update(mean_seconds=0),
            ["channels.voice.handle_time.mean_seconds", "greater than 0"],
        ),
        (
            lambda r: r["channels"]["voice"]["handle_time"].update(
                distribution="weibull"
            ),
            ["channels.voice.handle_time.distribution", "weibull", "lognormal"],
        ),
        (
            lambda r: r["channels"]["voice"]["ivr"].update(self_service_share=1.5),
            ["channels.voice.ivr.self_service_share", "1.5", "less than or equal to 1"],
        ),
        (
            lambda r: r["channels"]["voice"].pop("patience"),
            ["channels.voice", "needs 'patience'"],
        ),
        (
            lambda r: r["channels"]["chat"]["concurrency"].update(max_sessions=3),
            ["channels.chat.concurrency", "one factor per session"],
        ),
        (
            lambda r: r["channels"].update(fax=r["channels"]["voice"]),
            ["channels", "fax", "allowed"],
        ),
        (
            lambda r: r["channels"]["outbound"].update(ivr={"self_service_share": 0.1}),
            ["channels.outbound", "'ivr' does not apply"],
        ),
        (
            lambda r: r["agent_groups"]["general"].update(skills=["voice", "telex"]),
            ["agent_groups.general.skills", "telex", "not configured"],
        ),
        (
            lambda r: r["agent_groups"]["general"]["shifts"][0].update(agents=-1),
            ["agent_groups.general.shifts.0.agents", "-1"],
        ),
        (
            lambda r: r["agent_groups"]["general"].update(absenteeism=2),
            ["agent_groups.general.absenteeism", "less than or equal to 1"],
        ),
        (
            lambda r: r["agreements"][2].update(target=85),
            ["agreements.2", "ratio target must lie in [0, 1]", "85"],
        ),
        (
            lambda r: r["agreements"][2].update(channels=["pigeon"]),
            ["agreements.2.channels", "pigeon"],
        ),
        (
            lambda r: r["arrival_profile"]["intraday"].pop("12:00"),
            ["arrival_profile.intraday", "12:00"],
        ),
        (
            lambda r: r["assumptions"].update({"channels.voice.colour": "why"}),
            ["assumptions.channels.voice.colour", "does not exist"],
        ),
        (lambda r: r.update(schema_version=2), ["schema_version", "1"]),
    ],
)
def test_bad_field_is_named_with_value_and_allowed(raw_config, mutate, fragments):
    mutate(raw_config)
    message = problems(raw_config)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


def test_missing_file_and_bad_yaml_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"(?s)nope\.yaml.*cannot read"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("center: [unclosed\n")
    with pytest.raises(ConfigError, match=r"(?s)bad\.yaml.*not valid YAML"):
        load_config(bad)


@settings(max_examples=60, deadline=None)
@given(
    group=st.sampled_from(["general", "virtual", "outbound"]),
    value=st.one_of(
        st.integers(max_value=-1), st.text(max_size=5), st.floats(max_value=-0.01)
    ),
)
def test_any_bad_headcount_is_rejected_with_its_path(_raw_default, group, value):
    raw = copy.deepcopy(_raw_default)
    raw["agent_groups"][group]["shifts"][0]["agents"] = value
    message = problems(raw)
    assert f"agent_groups.{group}.shifts.0.agents" in message


def test_config_round_trips_through_yaml(raw_config):
    text = yaml.safe_dump(raw_config, allow_unicode=True)
    assert parse_config(yaml.safe_load(text), PATH).center.id == "sdm-bogota"
