"""The core proof: the aggregator's agreements equal the event log's, to the last digit.

A simulated day (plus survey, audit, HR and other fact events) is read by a
real ``cctwin aggregate --from-file`` process. Every agreement it exposes for
``today`` must equal what plain reference code computes from the same log;
and a real Prometheus scraping it, with the generated recording rules, must
compute the same figures.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_aggregator_support import (
    Aggregator,
    PrivatePrometheus,
    agreements_from,
    config,
    day_events,
    reference_agreements,
    reference_counts,
    value_of,
    window_counts,
    write_jsonl,
)

PII = {"phone": "+57 300 123 4567", "document": "CC-79123456", "name": "María Pérez"}

# Occupancy and adherence pool float seconds over several groups; Prometheus sums
# series in its own order, so only these may differ, and only in the last bits.
FLOAT_POOLED = {"occupancy", "adherence"}


@pytest.fixture(scope="module")
def day_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The day's log with personal fields on some events and a few bad lines."""
    events: list[Any] = [dict(event) for event in day_events()]
    for event in events[::50]:
        event.update(PII)
    path = write_jsonl(tmp_path_factory.mktemp("exact") / "day.jsonl", events)
    with path.open("a") as handle:
        handle.write("{not json\n")
        handle.write(
            json.dumps({**events[0], "event_id": "bad-1", "type": "teleported"}) + "\n"
        )
        handle.write(
            json.dumps({**events[1], "event_id": "bad-2", "schema_version": 9}) + "\n"
        )
        duplicate = next(e for e in events if e["type"] == "answered")
        handle.write(json.dumps(duplicate) + "\n")
    return path


@pytest.fixture(scope="module")
def aggregator(
    day_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Aggregator]:
    log = tmp_path_factory.mktemp("exact-log") / "aggregator.log"
    process = Aggregator(["--from-file", str(day_file)], log)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def samples(aggregator: Aggregator) -> Any:
    expected = len(day_events()) + 4
    return aggregator.wait_until(
        lambda s: value_of(s, "cctwin_aggregator_events_consumed_total") == expected,
        timeout=60,
        what=f"{expected} lines read",
    )


def test_every_agreement_equals_the_reference_to_the_last_digit(samples: Any) -> None:
    exposed = agreements_from(samples)
    reference = reference_agreements(day_events())

    assert set(exposed) == {a.id for a in config().agreements}
    assert exposed == reference
    # With the fact events, every one of the 25 agreements has a figure.
    assert all(value is not None for value in exposed.values())


def test_window_counts_equal_the_reference_counts(samples: Any) -> None:
    counts = window_counts(samples)
    reference = reference_counts(day_events())

    for channel, fields in reference["channel"].items():
        for field, value in fields.items():
            assert counts[(field, channel)] == value, (field, channel)
    for group, fields in reference["group"].items():
        assert (
            counts[("agent_available_seconds", group)] == fields["available_ms"] / 1000
        )


def test_bad_lines_are_counted_by_reason_and_the_duplicate_once(samples: Any) -> None:
    def invalid(reason: str) -> float:
        return value_of(
            samples, "cctwin_aggregator_events_invalid_total", reason=reason
        )

    assert invalid("malformed_json") == 1
    assert invalid("unknown_type") == 1
    assert invalid("unsupported_version") == 1
    assert value_of(samples, "cctwin_aggregator_events_duplicate_total") == 1


def test_personal_fields_are_dropped_and_never_exposed(
    samples: Any, aggregator: Aggregator
) -> None:
    text = (
        urllib.request.urlopen(f"http://127.0.0.1:{aggregator.port}/metrics")
        .read()
        .decode()
    )

    assert value_of(samples, "cctwin_aggregator_fields_dropped_total") > 0
    for secret in PII.values():
        assert secret not in text
        assert secret not in aggregator.log()


def test_wait_histogram_has_every_threshold_as_a_bound(samples: Any) -> None:
    bounds = {
        float(dict(labels)["le"])
        for (name, labels), _ in samples.items()
        if name == "cctwin_wait_seconds_bucket"
    }
    assert {5.0, 20.0, 70.0, 72.0} <= bounds


# ---------------------------------------------------------------- Prometheus


@pytest.fixture(scope="module")
def prometheus(
    aggregator: Aggregator, samples: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivatePrometheus]:
    """A private Prometheus scraping the aggregator every second, with the rules."""
    server = PrivatePrometheus(tmp_path_factory.mktemp("prometheus"), aggregator.port)
    try:
        yield server
    finally:
        server.stop()


def test_prometheus_recording_rules_compute_the_same_agreements(
    prometheus: PrivatePrometheus, samples: Any
) -> None:
    exposed = agreements_from(samples)
    metrics = {a.id: a.metric for a in config().agreements}

    result = prometheus.wait_for(
        'cctwin:agreement_value:window{window="today"}', len(exposed)
    )

    computed = {
        int(series["metric"]["id"]): float(series["value"][1]) for series in result
    }
    assert set(computed) == set(exposed)
    for agreement_id, value in computed.items():
        if metrics[agreement_id] in FLOAT_POOLED:
            assert math.isclose(value, exposed[agreement_id], rel_tol=1e-12), (
                agreement_id
            )
        else:
            assert value == exposed[agreement_id], (
                agreement_id,
                value,
                exposed[agreement_id],
            )


def test_prometheus_rate_rules_return_every_queue_agreement(
    prometheus: PrivatePrometheus,
) -> None:
    # The counters of a replayed day are flat after the first scrape: increase()
    # over 5 minutes is 0 and the ratios have no data, but the series of the
    # always-present gauges and counters must be there for every rule to parse.
    result = prometheus.wait_for("cctwin_offered_total", len(config().channels))
    assert {series["metric"]["channel"] for series in result} == set(config().channels)
