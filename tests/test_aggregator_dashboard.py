"""The Grafana dashboard: up to date, and every panel's query works on real data.

No Grafana server runs here, so each panel's PromQL is run against a real
Prometheus that scrapes a real aggregator fed through Kafka: two waves of a
simulated morning, so the counters move between scrapes and the rate panels
have something to show.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_aggregator_support import (
    ROOT,
    Aggregator,
    PrivatePrometheus,
    config,
    consumed,
    create_topic,
    day_events,
    fact_events,
    kafka_reachable,
    produce,
)

from aggregator.dashboard import render

DASHBOARD = ROOT / "grafana" / "dashboards" / "cctwin.json"

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]


def _queries() -> list[tuple[str, str]]:
    document = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in document["panels"]
        for target in panel.get("targets", [])
    ]


def test_committed_dashboard_equals_a_fresh_generation() -> None:
    assert DASHBOARD.read_text() == render(config()), (
        "grafana/dashboards/cctwin.json is stale; run `cctwin rules "
        "config/sdm-bogota.yaml --dashboard grafana/dashboards/cctwin.json`"
    )


def test_every_agreement_has_a_panel() -> None:
    titles = " ".join(title for title, _ in _queries())
    for agreement in config().agreements:
        assert f"ANS {agreement.id} · {agreement.name}" in titles


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePrometheus]:
    """An aggregator fed two waves of a morning, scraped by a private Prometheus."""
    bootstrap = kafka_reachable()
    folder = tmp_path_factory.mktemp("dashboard")
    tag = uuid.uuid4().hex[:10]
    topic = f"agg-dash-{tag}"
    create_topic(bootstrap, topic)
    # Bogotá 07:00-10:00 then 10:00-11:00 (UTC-5): the clock ends mid-morning,
    # when agents are busy and every window has contacts.
    # The fact events (surveys, audits...) all move to 09:30, so every
    # agreement has data by the end of the morning.
    simulated = [e for e in day_events() if not e["event_id"].startswith("fact-")]
    morning = [e for e in simulated if e["time"] < "2026-04-06T16:00"]
    facts = [dict(e, time="2026-04-06T14:30:00.000Z") for e in fact_events()]
    first = [e for e in morning if e["time"] < "2026-04-06T15:00"] + facts
    second = [e for e in morning if e["time"] >= "2026-04-06T15:00"]
    events = first + second
    aggregator = Aggregator(
        ["--bootstrap", bootstrap, "--topic", topic, "--group", topic,
         "--dead-letter-topic", f"{topic}.dead", "--clock", "event"],
        folder / "aggregator.log",
    )  # fmt: skip
    prometheus = PrivatePrometheus(folder, aggregator.port)
    try:
        produce(bootstrap, topic, first)
        aggregator.wait_until(lambda s: consumed(s) >= len(first), 90, "first wave")
        prometheus.wait_for('up{job="cctwin-aggregator"} == 1', 1)
        time.sleep(3)  # a few scrapes of the first wave
        produce(bootstrap, topic, second)
        aggregator.wait_until(lambda s: consumed(s) >= len(events), 90, "second wave")
        time.sleep(4)  # scrapes and rule evaluations of the second wave
        yield prometheus
    finally:
        prometheus.stop()
        aggregator.stop()


@pytest.mark.parametrize(("title", "expr"), _queries(), ids=[t for t, _ in _queries()])
def test_panel_query_parses_and_returns_data(
    live: PrivatePrometheus, title: str, expr: str
) -> None:
    grafana = expr.replace("$__rate_interval", "1m")
    result: list[Any] = live.wait_for(grafana, 1, timeout=20)
    assert result, title
