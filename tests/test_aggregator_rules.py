"""Generated Prometheus rules: valid, unit-tested by promtool, and up to date."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_aggregator_support import ROOT, config

from aggregator.rules import (
    BURN_METRICS,
    burn_factors,
    open_hours_expr,
    render,
    write_rules,
)

RULES = ROOT / "prometheus" / "rules"
TESTS = ROOT / "prometheus" / "tests"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing; it comes with Debian's prometheus package that "
            "`scripts/services prometheus start` installs",
            pytrace=False,
        )
    return path


def test_committed_rules_equal_a_fresh_generation(tmp_path: Path) -> None:
    written = write_rules(config(), tmp_path / "rules", tmp_path / "tests")

    for path in written:
        committed = (RULES if path.parent.name == "rules" else TESTS) / path.name
        assert committed.read_text() == path.read_text(), (
            f"{committed} is stale; run `cctwin rules config/sdm-bogota.yaml "
            "--out prometheus/rules/ --tests prometheus/tests/`"
        )


def test_promtool_accepts_the_rules() -> None:
    files = sorted(str(p) for p in RULES.glob("*.yml"))
    result = subprocess.run(
        [_promtool(), "check", "rules", *files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", "cctwin-alerts.test.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TESTS,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_covered_firing_and_quiet() -> None:
    rules = yaml.safe_load((RULES / "cctwin-alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((TESTS / "cctwin-alerts.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]

    for alert in alerts:
        mine = [case for case in cases if case["alertname"] == alert]
        assert any(case["exp_alerts"] for case in mine), f"{alert} never fires"
        assert any(not case["exp_alerts"] for case in mine), (
            f"{alert} never stays quiet"
        )


def test_burn_factors_stay_below_the_largest_possible_burn_rate() -> None:
    for agreement in config().agreements:
        if agreement.metric not in BURN_METRICS or not 0 < agreement.target < 1:
            continue
        budget, page, ticket = burn_factors(agreement)
        assert ticket < page < 1 / budget, agreement.name
    voice = next(a for a in config().agreements if a.id == 3)
    assert burn_factors(voice)[1] < 1 / 0.15 < 14.4


def test_opening_hours_are_shifted_to_utc() -> None:
    expr = open_hours_expr(config())
    # Monday 07:00-18:00 in Bogotá is Monday 12:00-23:00 UTC (day_of_week 1).
    assert f">= {1 * 1440 + 12 * 60} < {1 * 1440 + 23 * 60}" in expr
    assert "(0 * 1440" not in expr  # closed on Sunday


def test_every_agreement_has_a_recording_rule_per_family() -> None:
    text = render(config(), "config/sdm-bogota.yaml")["cctwin-recording.yml"]
    for agreement in config().agreements:
        assert text.count(f"id: '{agreement.id}'\n") == 5, agreement.name
