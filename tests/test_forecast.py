"""The month forecast: determinism, outputs, and staffing edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cctwin.cli import main
from cctwin.config import parse_config
from simulator.day import expected_day_volume
from simulator.forecast import Estimate, run_forecast

APRIL = [(2026, 4)]


def forecast_json(tmp_path, *extra: str) -> dict:
    result = CliRunner().invoke(
        main,
        [
            "forecast",
            "config/sdm-bogota.yaml",
            "--month",
            "2026-04",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "forecast.json").read_text())


def test_same_seed_same_forecast_whatever_the_jobs(tmp_path):
    one = forecast_json(tmp_path / "one", "--replications", "4", "--jobs", "1")
    two = forecast_json(tmp_path / "two", "--replications", "4", "--jobs", "2")
    assert one == two
    other = forecast_json(tmp_path / "other", "--replications", "4", "--seed", "4")
    assert other["channels"] != one["channels"]


def test_precision_mode_is_independent_of_jobs(default_config):
    one = run_forecast(default_config, APRIL, 5, precision_pp=2.0, jobs=1)
    two = run_forecast(default_config, APRIL, 5, precision_pp=2.0, jobs=2)
    assert len(one.reps) == len(two.reps) >= 5
    assert "precision reached" in one.stop_reason
    sl_one = one.channel_estimate("service_level", ["voice"])
    sl_two = two.channel_estimate("service_level", ["voice"])
    assert sl_one.values == sl_two.values
    assert sl_one.half_width() <= 0.02


def test_precision_cap_is_reported(default_config):
    result = run_forecast(
        default_config, APRIL, 5, precision_pp=0.01, max_replications=7
    )
    # Rounded up to whole antithetic pairs.
    assert len(result.reps) == 8
    assert "cap hit" in result.stop_reason
    assert any("cap hit" in w for w in result.warnings)


def test_forecast_json_has_every_channel_metric_with_ci(tmp_path):
    data = forecast_json(tmp_path, "--replications", "3")
    for channel, block in data["channels"].items():
        for metric in (
            "offered",
            "answered",
            "abandoned",
            "service_level",
            "answer_rate",
            "abandonment",
            "asa_seconds",
            "handle_time_seconds",
        ):
            assert set(block[metric]) >= {"mean", "ci95"}, (channel, metric)
        assert 0 <= block["answer_rate"]["mean"] <= 1
        low, high = block["offered"]["ci95"]
        assert low <= block["offered"]["mean"] <= high
    for group in data["groups"].values():
        assert 0 <= group["occupancy"]["mean"] <= 1
    voice = data["channels"]["voice"]
    assert voice["answered"]["mean"] + voice["abandoned"]["mean"] == pytest.approx(
        voice["offered"]["mean"]
    )
    ids = [a["id"] for a in data["agreements"]]
    assert ids == list(range(1, 26))
    sl = next(a for a in data["agreements"] if a["id"] == 3)
    assert 0 <= sl["probability_met"] <= 1
    assert (tmp_path / "intervals.csv").read_text().startswith("interval,channel,")
    days = (tmp_path / "days.csv").read_text().splitlines()
    assert days[1].startswith("2026-04-01,voice,")


def test_zero_agents_with_traffic_gives_service_level_zero_and_a_warning(raw_config):
    for group in raw_config["agent_groups"].values():
        for shift in group["shifts"]:
            shift["agents"] = 0
    config = parse_config(raw_config, "zero.yaml")
    result = run_forecast(config, APRIL, 1, replications_count=2)
    assert result.channel_estimate("service_level", ["voice"]).mean == 0.0
    assert result.channel_estimate("answer_rate", ["voice"]).mean == 0.0
    assert result.channel_estimate("asa_seconds", ["voice"]).mean is None
    assert result.group_estimate("occupancy", ["general"]).mean is None
    assert any("'voice' has traffic but no agent" in w for w in result.warnings)


def test_more_agents_never_hurt_the_service_level(default_config):
    from simulator.forecast import Scenario

    base = run_forecast(default_config, APRIL, 9, replications_count=2)
    more = run_forecast(
        default_config,
        APRIL,
        9,
        replications_count=2,
        scenario=Scenario(staffing_scale=1.3),
    )
    assert (
        more.channel_estimate("service_level", ["voice"]).mean
        > base.channel_estimate("service_level", ["voice"]).mean
    )


def test_cli_config_error_names_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    with open("config/sdm-bogota.yaml") as handle:
        text = handle.read().replace("interval_minutes: 30", "interval_minutes: 7")
    bad.write_text(text)
    result = CliRunner().invoke(main, ["forecast", str(bad), "--month", "2026-04"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output
    assert "center.interval_minutes" in result.output


def test_cli_rejects_a_malformed_month():
    result = CliRunner().invoke(
        main, ["forecast", "config/sdm-bogota.yaml", "--month", "April"]
    )
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def test_simulate_refuses_a_closed_day(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "config/sdm-bogota.yaml",
            "--day",
            "2026-04-05",
            "--events",
            str(tmp_path / "e.jsonl"),
        ],
    )
    assert result.exit_code == 2
    assert "closed" in result.output


def test_replications_come_in_antithetic_pairs(default_config):
    result = run_forecast(default_config, APRIL, 5, replications_count=5)
    assert len(result.reps) == 6

    # The second of a pair mirrors the first's draws: a day busier than
    # expected in one is quieter than expected in the other.
    expected = np.array(
        [expected_day_volume(default_config, "voice", day) for day in result.days]
    )
    deviations = [rep.entered[:, 0] - expected for rep in result.reps]
    for first in (0, 2, 4):
        paired = np.corrcoef(deviations[first], deviations[first + 1])[0, 1]
        assert paired < -0.5, paired
    unpaired = np.corrcoef(deviations[1], deviations[2])[0, 1]
    assert unpaired > -0.5, unpaired


def test_confidence_interval_is_computed_from_pair_means():
    estimate = Estimate([1.0, 3.0, 2.0, 6.0, None, 5.0])

    assert estimate.pair_means.tolist() == [2.0, 4.0, 5.0]
    low, high = estimate.ci95
    assert (low + high) / 2 == pytest.approx(11.0 / 3.0)
    assert estimate.mean == pytest.approx(17.0 / 5.0)
