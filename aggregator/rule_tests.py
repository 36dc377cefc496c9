"""promtool unit tests of the alert rules: each alert firing, and staying quiet.

Scenarios are raw series as the aggregators expose them, one sample every five
minutes from 1970-01-01 00:00 UTC (a Thursday), evaluated at 14:00 UTC (09:00 in
Bogotá, open) and at 03:00 UTC (22:00 the evening before, closed). Expected
alerts are written out per scenario from the scenario's own arithmetic (an SL
of 10% against an 85% target burns 0.9 / 0.15 = 6 times the budget), not
from the rule expressions, so ``promtool test rules`` checks the PromQL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aggregator.rules import (
    BURN_METRICS,
    HEADER,
    JOB,
    LIMIT_METRICS,
    burn_alerts,
    dump,
    freshness_alerts,
    limit_alert,
)
from cctwin.config.models import Agreement, CenterConfig

OPEN_AT = "14h"
CLOSED_AT = "3h"
STEP_MINUTES = 5
SAMPLES = 180
"""15 hours of samples every 5 minutes: the longest window (6 h) is full by 14:00."""

AGREEMENT_ALERTS = (
    "CctwinAgreementBurnFast",
    "CctwinAgreementBurnSlow",
    "CctwinAgreementOverLimit",
    "CctwinCampaignErrors",
)
FRESHNESS_ALERTS = tuple(rule["alert"] for rule in freshness_alerts())


def _series(name: str, labels: dict[str, str], per_minute: float) -> dict[str, str]:
    text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    step = f"{per_minute * STEP_MINUTES:g}"
    values = f"0+{step}x{SAMPLES}" if per_minute else f"0x{SAMPLES}"
    return {"series": f"{name}{{{text}}}", "values": values}


def _gauge(name: str, labels: dict[str, str], value: float) -> dict[str, str]:
    text = ",".join(f'{key}="{v}"' for key, v in labels.items())
    return {"series": f"{name}{{{text}}}", "values": f"{value:g}x{SAMPLES}"}


def _voice(
    config: CenterConfig, offered: int, answered: int, within: int, handle: float
) -> list[dict[str, str]]:
    """One minute of voice traffic, repeated: counts per minute."""
    channel = "voice"
    labels = {"channel": channel, "queue": config.channels[channel].queue}
    definition = config.service_level_of(channel)
    assert definition is not None
    bucket = {
        **labels,
        "outcome": "answered",
        "le": f"{definition.threshold_seconds:.1f}",
    }
    return [
        _series("cctwin_offered_total", labels, offered),
        _series("cctwin_answered_total", labels, answered),
        _series("cctwin_abandoned_total", labels, offered - answered),
        _series("cctwin_abandoned_short_total", labels, 0),
        _series("cctwin_wait_seconds_bucket", bucket, within),
        _gauge("cctwin_waiting_over_threshold", labels, 0),
        _series("cctwin_answered_wait_seconds_total", labels, answered * 10),
        _series(
            "cctwin_handle_seconds_total", {**labels, "part": "talk"}, answered * handle
        ),
    ]


def _pipeline(healthy: bool, campaign_errors: float = 0) -> list[dict[str, str]]:
    return [
        _series("cctwin_aggregator_events_consumed_total", {}, 100 if healthy else 0),
        _gauge("cctwin_aggregator_event_time_lag_seconds", {}, 1 if healthy else 600),
        _gauge(
            "cctwin_aggregator_consumer_lag_messages",
            {"partition": "0"},
            0 if healthy else 20_000,
        ),
        _gauge("cctwin_aggregator_broker_up", {}, 1 if healthy else 0),
        _gauge("up", {"job": JOB, "instance": "127.0.0.1:9464"}, 1 if healthy else 0),
        _series("cctwin_campaign_errors_total", {}, campaign_errors),
    ]


def _expected(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "exp_labels": {**labels, **rule["labels"]},
        "exp_annotations": rule["annotations"],
    }


def _agreement_labels(agreement: Agreement) -> dict[str, str]:
    return {"id": str(agreement.id), "name": agreement.name, "metric": agreement.metric}


def _voice_agreements(config: CenterConfig) -> list[Agreement]:
    """Agreements whose channels include voice and that have an alert."""
    return [
        a
        for a in config.agreements
        if "voice" in a.channels and a.metric in BURN_METRICS | LIMIT_METRICS
    ]


def _collapse_alerts(config: CenterConfig) -> dict[str, list[dict[str, Any]]]:
    """Voice at 10% SL, 20% answered, 80% abandoned, TMO 800 s: what fires.

    With voice the only channel with data, each voice agreement's figure is
    voice's own: SL error 0.9, answer-rate error 0.8, abandonment 0.8 - above
    every capped factor of their targets - and TMO 800 s over its limit.
    """
    fired: dict[str, list[dict[str, Any]]] = {name: [] for name in AGREEMENT_ALERTS}
    errors = {"service_level": 0.9, "answer_rate": 0.8, "abandonment": 0.8}
    for agreement in _voice_agreements(config):
        labels = _agreement_labels(agreement)
        if agreement.metric in BURN_METRICS:
            budget = (
                1 - agreement.target
                if agreement.metric != "abandonment"
                else agreement.target
            )
            for rule in burn_alerts(agreement):
                factor = 14.4 if rule["labels"]["severity"] == "page" else 6.0
                ceiling = (0.75 if factor == 14.4 else 0.5) / budget
                if errors[agreement.metric] / budget > min(factor, ceiling):
                    fired[rule["alert"]].append(_expected(rule, labels))
        elif agreement.metric == "handle_time_seconds" and agreement.target < 800:
            fired["CctwinAgreementOverLimit"].append(
                _expected(limit_alert(agreement), labels)
            )
    return fired


def _case(
    at: str, names: tuple[str, ...], fired: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    return [
        {"eval_time": at, "alertname": name, "exp_alerts": fired.get(name, [])}
        for name in names
    ]


def render_tests(config: CenterConfig, rules: Path, tests: Path, source: str) -> str:
    """The promtool test file for the rules written to ``rules``."""
    relative = Path(os.path.relpath(rules, tests))
    everything = AGREEMENT_ALERTS + FRESHNESS_ALERTS
    campaign = next(a for a in config.agreements if a.metric == "campaign_error_rate")
    campaign_rule = {
        "labels": {"severity": "ticket", "id": str(campaign.id)},
        "annotations": {
            "summary": f"ANS {campaign.id} {campaign.name}: a campaign was sent "
            "with critical errors",
            "description": "The target is zero: any error breaches it.",
        },
    }
    pipeline_down = {
        rule["alert"]: [
            _expected(
                rule,
                {"job": JOB, "instance": "127.0.0.1:9464"}
                if rule["alert"] == "CctwinAggregatorDown"
                else {},
            )
        ]
        for rule in freshness_alerts()
    }
    pipeline_down["CctwinCampaignErrors"] = [
        {
            "exp_labels": campaign_rule["labels"],
            "exp_annotations": campaign_rule["annotations"],
        }
    ]
    always = {"CctwinBrokerDown", "CctwinAggregatorDown", "CctwinCampaignErrors"}
    closed_down = {k: v for k, v in pipeline_down.items() if k in always}

    collapse = _voice(config, offered=20, answered=4, within=2, handle=800)
    healthy = _voice(config, offered=20, answered=20, within=19, handle=600)
    tests_list = [
        {
            "name": "healthy voice and pipeline: every alert stays quiet",
            "interval": f"{STEP_MINUTES}m",
            "input_series": healthy + _pipeline(True),
            "alert_rule_test": _case(OPEN_AT, everything, {}),
        },
        {
            "name": "voice collapses while open: burn-rate and TMO alerts fire",
            "interval": f"{STEP_MINUTES}m",
            "input_series": collapse + _pipeline(True),
            "alert_rule_test": _case(OPEN_AT, everything, _collapse_alerts(config)),
        },
        {
            "name": "the same collapse while closed: agreement alerts stay quiet",
            "interval": f"{STEP_MINUTES}m",
            "input_series": collapse + _pipeline(True),
            "alert_rule_test": _case(CLOSED_AT, everything, {}),
        },
        {
            "name": "pipeline stalled while open: every freshness alert fires",
            "interval": f"{STEP_MINUTES}m",
            "input_series": _pipeline(False, campaign_errors=1),
            "alert_rule_test": _case(OPEN_AT, everything, pipeline_down),
        },
        {
            "name": "pipeline stalled while closed: only the always-on alerts fire",
            "interval": f"{STEP_MINUTES}m",
            "input_series": _pipeline(False, campaign_errors=1),
            "alert_rule_test": _case(CLOSED_AT, everything, closed_down),
        },
    ]
    document = {
        "rule_files": [
            str(relative / "cctwin-recording.yml"),
            str(relative / "cctwin-alerts.yml"),
        ],
        "evaluation_interval": f"{STEP_MINUTES}m",
        "tests": tests_list,
    }
    return HEADER.format(config=source) + dump(document)
