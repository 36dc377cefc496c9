"""The Grafana dashboard of the live agreements, generated from the config.

Panels read the recording rules of :mod:`aggregator.rules` for the agreements
(one stat per agreement for today, a table of every window, burn rates over
the last hour) and the raw series for queues, agents and the pipeline. The
JSON is written to ``grafana/dashboards/cctwin.json``; Grafana provisions it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cctwin.config.models import Agreement, CenterConfig

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

BURNED = '"service_level|answer_rate"'
"""Agreements whose burn rate is drawn (their target leaves a budget)."""

UNITS = {"ratio": "percentunit", "seconds": "s", "days": "d", "score": "none"}


def _target(expr: str, legend: str = "") -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "refId": "A",
    }


def _panel(
    kind: str, title: str, expr: str, grid: tuple[int, int, int, int], **extra: Any
) -> dict[str, Any]:
    x, y, w, h = grid
    legend = extra.pop("legend", "")
    unit = extra.pop("unit", "none")
    panel = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [_target(expr, legend)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
    }
    panel.update(extra)
    return panel


def _row(title: str, y: int) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
        "panels": [],
    }


def _agreement_stat(agreement: Agreement, x: int, y: int) -> dict[str, Any]:
    # Green when the target is met: thresholds step at the target itself.
    at_least = agreement.direction.value == "at_least"
    steps = [
        {"color": "red" if at_least else "green", "value": None},
        {"color": "green" if at_least else "red", "value": agreement.target},
    ]
    panel = _panel(
        "stat",
        f"ANS {agreement.id} · {agreement.name}",
        f'cctwin:agreement_value:window{{window="today",id="{agreement.id}"}}',
        (x, y, 4, 4),
        unit=UNITS[agreement.unit],
    )
    panel["fieldConfig"]["defaults"]["thresholds"] = {
        "mode": "absolute",
        "steps": steps,
    }
    panel["fieldConfig"]["defaults"]["noValue"] = "no data"
    panel["options"] = {
        "colorMode": "background",
        "reduceOptions": {"calcs": ["lastNotNull"]},
    }
    return panel


def panels(config: CenterConfig) -> list[dict[str, Any]]:
    """Every panel, top to bottom: agreements, queues, agents, pipeline."""
    out: list[dict[str, Any]] = [_row("Agreements (ANS), today since opening", 0)]
    for index, agreement in enumerate(config.agreements):
        out.append(_agreement_stat(agreement, (index % 6) * 4, 1 + (index // 6) * 4))
    y = 1 + (len(config.agreements) + 5) // 6 * 4
    out += [
        _panel(
            "table",
            "Every agreement by window",
            'cctwin:agreement_value:window{window=~"interval30|last30m|today|month"}',
            (0, y, 12, 10),
            legend="{{id}} {{name}} {{window}}",
        ),
        _panel(
            "timeseries",
            "Burn rate of the error budget, last hour",
            f"(1 - cctwin:agreement_value:rate1h{{metric=~{BURNED}}})"
            " / on(id) group_left()"
            f" (1 - max by (id) (cctwin_agreement_target{{metric=~{BURNED}}}))",
            (12, y, 12, 10),
            legend="ANS {{id}} {{name}}",
        ),
    ]
    y += 10
    out.append(_row("Queues", y))
    y += 1
    out += [
        _panel(
            "timeseries",
            "Contacts waiting now",
            "sum by (channel) (cctwin_waiting_contacts)",
            (0, y, 8, 8),
            legend="{{channel}}",
        ),
        _panel(
            "timeseries",
            "Oldest wait now",
            "max by (channel) (cctwin_oldest_wait_seconds)",
            (8, y, 8, 8),
            legend="{{channel}}",
            unit="s",
        ),
        _panel(
            "timeseries",
            "Waiting past the threshold (misses already)",
            "sum by (channel) (cctwin_waiting_over_threshold)",
            (16, y, 8, 8),
            legend="{{channel}}",
        ),
        _panel(
            "timeseries",
            "Offered per minute",
            "sum by (channel) (rate(cctwin_offered_total[5m])) * 60",
            (0, y + 8, 8, 8),
            legend="{{channel}}",
        ),
        _panel(
            "timeseries",
            "Answered wait, 90th percentile (30 min)",
            "histogram_quantile(0.9, sum by (le, channel) "
            '(rate(cctwin_wait_seconds_bucket{outcome="answered"}[30m])))',
            (8, y + 8, 8, 8),
            legend="{{channel}}",
            unit="s",
        ),
        _panel(
            "timeseries",
            "Service level, last 30 minutes (event time)",
            'cctwin:agreement_value:window{window="last30m",metric="service_level"}',
            (16, y + 8, 8, 8),
            legend="ANS {{id}} {{name}}",
            unit="percentunit",
        ),
    ]
    y += 16
    out.append(_row("Agents", y))
    y += 1
    out += [
        _panel(
            "timeseries",
            "Agents by state",
            "sum by (state) (cctwin_agents)",
            (0, y, 8, 8),
            legend="{{state}}",
        ),
        _panel(
            "timeseries",
            "Occupancy and adherence, current interval",
            'cctwin:agreement_value:window{window="interval30",metric=~"occupancy|adherence"}',
            (8, y, 8, 8),
            legend="ANS {{id}} {{name}}",
            unit="percentunit",
        ),
        _panel(
            "timeseries",
            "Agent time by state (share, 30 min)",
            "sum by (state) (rate(cctwin_agent_state_seconds_total[30m]))"
            " / ignoring(state) group_left()"
            " sum(rate(cctwin_agent_state_seconds_total[30m]))",
            (16, y, 8, 8),
            legend="{{state}}",
            unit="percentunit",
        ),
    ]
    y += 8
    out.append(_row("Pipeline health", y))
    y += 1
    out += [
        _panel(
            "timeseries",
            "Events consumed per second",
            "sum(rate(cctwin_aggregator_events_consumed_total[1m]))",
            (0, y, 6, 8),
        ),
        _panel(
            "timeseries",
            "Invalid events by reason (1 h)",
            "sum by (reason) (increase(cctwin_aggregator_events_invalid_total[1h]))",
            (6, y, 6, 8),
            legend="{{reason}}",
        ),
        _panel(
            "stat",
            "Event-time lag",
            "max(cctwin_aggregator_event_time_lag_seconds)",
            (12, y, 3, 4),
            unit="s",
        ),
        _panel(
            "stat",
            "Consumer lag",
            "sum(cctwin_aggregator_consumer_lag_messages) or vector(0)",
            (15, y, 3, 4),
        ),
        _panel("stat", "Broker up", "min(cctwin_aggregator_broker_up)", (18, y, 3, 4)),
        _panel(
            "stat",
            "Since last commit",
            "time() - max(cctwin_aggregator_last_commit_timestamp_seconds)",
            (21, y, 3, 4),
            unit="s",
        ),
        _panel(
            "stat", "Center open", "cctwin:center_open or vector(0)", (12, y + 4, 3, 4)
        ),
        _panel(
            "stat",
            "Aggregators up",
            'sum(up{job="cctwin-aggregator"})',
            (15, y + 4, 3, 4),
        ),
    ]
    for number, panel in enumerate(out, start=1):
        panel["id"] = number
    return out


def dashboard(config: CenterConfig) -> dict[str, Any]:
    """The whole dashboard document."""
    return {
        "uid": "cctwin-live",
        "title": f"cctwin · {config.center.id} · live agreements",
        "tags": ["cctwin"],
        "timezone": config.center.timezone,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels(config),
    }


def render(config: CenterConfig) -> str:
    """The dashboard as the committed JSON text."""
    return json.dumps(dashboard(config), indent=2, ensure_ascii=False) + "\n"


def write_dashboard(config: CenterConfig, path: Path) -> Path:
    """Write the dashboard JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(config))
    return path
