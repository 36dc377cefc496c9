"""The aggregator against the real Kafka broker: exact counts, dead letters, faults.

Each test has its own topic, consumer group and dead-letter topic (uuid), so
tests run side by side on the shared broker. The broker-restart test starts
its own private broker (``scripts/services`` with its own state directory and
free ports), kills it mid-run and always kills it in a ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_aggregator_support import (
    ROOT,
    Aggregator,
    Samples,
    agreements_from,
    config,
    consumed,
    create_topic,
    day_events,
    free_port,
    kafka_reachable,
    produce,
    reference_agreements,
    reference_counts,
    value_of,
    window_counts,
)

from cctwin.metrics import COUNT_FIELDS

pytestmark = pytest.mark.kafka

PHONE = "+57 310 555 0199"


@pytest.fixture
def names(tmp_path: Path) -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "topic": f"agg-test-{tag}",
        "group": f"agg-test-{tag}",
        "dead": f"agg-test-{tag}.dead-letter",
        "state": str(tmp_path / "state.ckpt"),
    }


@pytest.fixture
def bootstrap() -> str:
    return kafka_reachable()


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Aggregator]]:
    """Aggregators a test starts; every one is stopped at the end."""
    processes: list[Aggregator] = []
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


def _start(
    started: list[Aggregator],
    names: dict[str, str],
    bootstrap: str,
    tmp: Path,
    *extra: str,
) -> Aggregator:
    args = [
        "--bootstrap", bootstrap, "--topic", names["topic"], "--group", names["group"],
        "--dead-letter-topic", names["dead"], "--clock", "event", *extra,
    ]  # fmt: skip
    process = Aggregator(args, tmp / f"aggregator-{len(started)}.log")
    started.append(process)
    return process


def _contact_counts(samples: Samples) -> dict[tuple[str, str], float]:
    counts = window_counts(samples)
    return {
        key: value
        for key, value in counts.items()
        if key[0] in COUNT_FIELDS
        and key[0] != "wait_answered_seconds"
        and key[0] != "handle_seconds"
    }


def _reference_contact_counts(
    events: list[dict[str, Any]] | None = None,
) -> dict[tuple[str, str], float]:
    log = list(day_events()) if events is None else events
    reference = reference_counts(log, complete=events is None)["channel"]
    out = {}
    for channel in config().channels:
        for field in COUNT_FIELDS:
            if field not in ("wait_answered_seconds", "handle_seconds"):
                out[(field, channel)] = (
                    reference[channel][field] if channel in reference else 0.0
                )
    return out


def _all_consumed(count: int) -> Any:
    return lambda samples: consumed(samples) >= count


def test_a_day_through_kafka_gives_the_reference_agreements_exactly(
    bootstrap: str, names: dict[str, str], started: list[Aggregator], tmp_path: Path
) -> None:
    create_topic(bootstrap, names["topic"])
    create_topic(bootstrap, names["dead"], partitions=1)
    events = list(day_events())
    bad = [
        b"{broken",
        json.dumps(
            {**events[0], "event_id": "dl-1", "wait_seconds": -3, "phone": PHONE}
        ).encode(),
        json.dumps({**events[5], "event_id": "dl-2", "schema_version": 7}).encode(),
    ]
    produce(bootstrap, names["topic"], events[:6000] + bad + events[6000:])

    aggregator = _start(started, names, bootstrap, tmp_path)
    reference = reference_agreements(day_events())
    # "Consumed" counts redeliveries (a batch undone by a rebalance is read
    # again), so the wait is for the published figures themselves.
    samples = aggregator.wait_until(
        lambda s: (
            consumed(s) >= len(events) + len(bad) and agreements_from(s) == reference
        ),
        timeout=90,
        what="the whole day consumed and published",
    )

    assert agreements_from(samples) == reference
    # The dead-letter topic is at least once too: a redelivered batch forwards
    # its rejects again, so the letters are told apart by their source offset.
    assert value_of(samples, "cctwin_aggregator_dead_lettered_total") >= len(bad)
    assert value_of(samples, "cctwin_aggregator_broker_up") == 1
    assert value_of(samples, "cctwin_aggregator_last_commit_timestamp_seconds") > 0

    letters = _read_distinct(bootstrap, names["dead"], len(bad))
    reasons = sorted(dict(m.headers)["cctwin-reason"].decode() for m in letters)
    assert reasons == ["malformed_json", "negative_value", "unsupported_version"]
    for message in letters:
        assert PHONE.encode() not in message.value
        for _, header in message.headers:
            assert PHONE.encode() not in header
    assert PHONE not in aggregator.log()


def _read_distinct(bootstrap: str, topic: str, count: int) -> list[Any]:
    """Dead letters, one per source message (duplicates of one are skipped)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=[bootstrap],
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
    )
    try:
        out: dict[bytes, Any] = {}
        for message in consumer:
            out.setdefault(dict(message.headers)["cctwin-source"], message)
            if len(out) >= count:
                break
        return list(out.values())
    finally:
        consumer.close()


def test_sigkill_mid_stream_then_restart_loses_nothing_and_counts_nothing_twice(
    bootstrap: str, names: dict[str, str], started: list[Aggregator], tmp_path: Path
) -> None:
    create_topic(bootstrap, names["topic"])
    events = list(day_events())
    half = len(events) // 2
    produce(bootstrap, names["topic"], events[:half])
    state = ["--state-file", names["state"]]

    first = _start(started, names, bootstrap, tmp_path, *state)
    first.wait_until(_all_consumed(half), timeout=90, what="the first half")
    # Kill while the second half is arriving: batches are in flight.
    producer = threading.Thread(
        target=produce, args=(bootstrap, names["topic"], events[half:], 4_000.0)
    )
    producer.start()
    first.wait_until(
        _all_consumed(half + 1_000), timeout=60, what="part of the second half"
    )
    first.kill()
    producer.join(timeout=60)

    second = _start(started, names, bootstrap, tmp_path, *state)
    samples = second.wait_until(
        lambda s: (
            value_of(s, "cctwin_agreement_has_data", window="today") > 0
            and value_of(s, "cctwin_aggregator_consumer_lag_messages") == 0
            and sum(_contact_counts(s).values())
            >= sum(_reference_contact_counts().values())
        ),
        timeout=90,
        what="the restarted aggregator to catch up",
    )

    assert "event=checkpoint_loaded" in second.log()
    assert _contact_counts(samples) == _reference_contact_counts()
    assert agreements_from(samples) == reference_agreements(day_events())


def test_two_aggregators_share_the_topic_and_one_takes_over_when_the_other_dies(
    bootstrap: str, names: dict[str, str], started: list[Aggregator], tmp_path: Path
) -> None:
    create_topic(bootstrap, names["topic"])
    events = list(day_events())
    half = len(events) // 2
    a = _start(started, names, bootstrap, tmp_path)
    b = _start(started, names, bootstrap, tmp_path)
    _wait_for_split(a, b, timeout=60)
    produce(bootstrap, names["topic"], events[:half])

    first_half = _reference_contact_counts(events[:half])

    def split_done(_: Samples) -> bool:
        seen = [
            _contact_counts(p.wait_until(lambda s: True, 10, "scrape")) for p in (a, b)
        ]
        return all(
            seen[0].get(key, 0.0) + seen[1].get(key, 0.0) == value
            for key, value in first_half.items()
        )

    a.wait_until(split_done, timeout=90, what="the first half split between the two")
    a_samples = a.wait_until(lambda s: True, 10, "a")
    b_samples = b.wait_until(lambda s: True, 10, "b")
    assert consumed(a_samples) > 0 and consumed(b_samples) > 0, a.log() + b.log()
    a.kill()  # idle now: its last /metrics is what it committed
    produce(bootstrap, names["topic"], events[half:])

    expected = _reference_contact_counts()
    final = b.wait_until(
        lambda s: (
            sum(_contact_counts(s).values()) + sum(_contact_counts(a_samples).values())
            >= sum(expected.values())
        ),
        timeout=120,
        what="the survivor to take over the dead one's partitions",
    )
    combined = {
        key: _contact_counts(a_samples).get(key, 0.0)
        + _contact_counts(final).get(key, 0.0)
        for key in expected
    }
    assert combined == expected


def _wait_for_log(process: Aggregator, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in process.log():
            return
        time.sleep(0.2)
    pytest.fail(f"{text!r} never appeared in the aggregator's log:\n{process.log()}")


def _assignment(process: Aggregator) -> set[str]:
    lines = [line for line in process.log().splitlines() if "partitions_" in line]
    if not lines or "event=partitions_assigned" not in lines[-1]:
        return set()
    listed = lines[-1].split("partitions=")[1].strip()
    return set() if listed == "-" else set(listed.split(","))


def _wait_for_split(a: Aggregator, b: Aggregator, timeout: float) -> None:
    """Both hold partitions, together all three, none twice."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first, second = _assignment(a), _assignment(b)
        if first and second and not first & second and len(first | second) == 3:
            return
        time.sleep(0.2)
    pytest.fail(f"the two never split the partitions:\n{a.log()}\n{b.log()}")


def _start_broker(env: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services"), "kafka", "start"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr


def _kill_broker(state_dir: Path) -> None:
    """Stop the private broker hard: the test needs it gone, not tidy."""
    pid_file = state_dir / "kafka" / "kafka.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    pid_file.unlink(missing_ok=True)


def test_broker_stop_and_start_the_aggregator_waits_and_resumes(
    names: dict[str, str], started: list[Aggregator], tmp_path: Path
) -> None:
    port = free_port()
    state_dir = tmp_path / "private-kafka"
    env = {
        **os.environ,
        "CCTWIN_STATE_DIR": str(state_dir),
        "CCTWIN_KAFKA_PORT": str(port),
        "CCTWIN_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CCTWIN_KAFKA_HEAP": "256m",
    }
    bootstrap = f"127.0.0.1:{port}"
    _start_broker(env)
    try:
        create_topic(bootstrap, names["topic"])
        events = list(day_events())
        half = len(events) // 2
        produce(bootstrap, names["topic"], events[:half])
        aggregator = _start(started, names, bootstrap, tmp_path)
        aggregator.wait_until(_all_consumed(half), timeout=90, what="the first half")

        _kill_broker(state_dir)
        aggregator.wait_until(
            lambda s: value_of(s, "cctwin_aggregator_broker_up") == 0,
            timeout=60,
            what="broker_up to drop to 0",
        )
        assert "event=broker_unreachable" in aggregator.log()

        _start_broker(env)
        produce(bootstrap, names["topic"], events[half:])
        samples = aggregator.wait_until(
            lambda s: (
                sum(_contact_counts(s).values())
                >= sum(_reference_contact_counts().values())
                and value_of(s, "cctwin_aggregator_broker_up") == 1
            ),
            timeout=120,
            what="the aggregator to resume after the broker came back",
        )
        assert _contact_counts(samples) == _reference_contact_counts()
        assert agreements_from(samples) == reference_agreements(day_events())
    finally:
        _kill_broker(state_dir)
