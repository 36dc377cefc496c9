"""`cctwin stream` against a real Kafka broker: what goes in comes back out.

The shared broker is the one `scripts/services kafka start` runs (address from
CCTWIN_KAFKA_HOST/PORT); these tests never skip when it is missing, they fail
saying how to start it. The test that kills a broker starts a private one of
its own (own state directory, own free ports) and always stops it. Every test
uses its own topic, so they run side by side under pytest-xdist.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from cctwin.config import CenterConfig
from simulator.day_events import simulate_day_events

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "sdm-bogota.yaml"
SERVICES = ROOT / "scripts" / "services"
KAFKA_HOST = os.environ.get("CCTWIN_KAFKA_HOST", "127.0.0.1")
KAFKA_PORT = int(os.environ.get("CCTWIN_KAFKA_PORT", "9092"))
DAY = dt.date(2026, 4, 6)
SEED = 11
CONSUME_TIMEOUT_S = 90
STREAM_TIMEOUT_S = 120


def reachable(host: str, port: int) -> str | None:
    """None when the port accepts a connection, else the reason it does not."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        return str(error)
    return None


@pytest.fixture(scope="module")
def bootstrap() -> str:
    address = f"{KAFKA_HOST}:{KAFKA_PORT}"
    problem = reachable(KAFKA_HOST, KAFKA_PORT)
    if problem is not None:
        pytest.fail(
            f"Kafka is not reachable at {address} ({problem}); "
            "start it with `scripts/services kafka start`",
            pytrace=False,
        )
    return address


def new_topic_name() -> str:
    return f"cctwin-stream-test-{uuid.uuid4().hex[:12]}"


def delete_topic(address: str, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=address, bootstrap_timeout_ms=5_000)
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


@pytest.fixture
def topic(bootstrap: str) -> Iterator[str]:
    """A topic name no other test uses; the stream creates it, this deletes it."""
    name = new_topic_name()
    yield name
    delete_topic(bootstrap, name)


def cctwin(
    *args: str, timeout: float = STREAM_TIMEOUT_S
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cctwin.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


Record = tuple[str, int, dict[str, Any]]
"""(key, partition, event) of one consumed message."""


def consume(address: str, topic: str, expected: int) -> list[Record]:
    """Read the topic from the start until ``expected`` messages or the deadline.

    Waits a little after reaching ``expected`` so duplicates would show up too.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=address,
        bootstrap_timeout_ms=5_000,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records: list[Record] = []
    try:
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                time.sleep(0.2)
        assert partitions, f"topic {topic} does not exist on {address}"
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        quiet_until = None
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    records.append(
                        (
                            message.key.decode(),
                            message.partition,
                            json.loads(message.value),
                        )
                    )
            if len(records) >= expected:
                quiet_until = quiet_until or time.monotonic() + 2.0
                if time.monotonic() >= quiet_until:
                    break
    finally:
        consumer.close()
    return records


def assert_same_events(records: list[Record], expected: list[dict[str, Any]]) -> None:
    """Count, content and per-interaction order equal the simulator's own."""
    got_ids = [event["event_id"] for _, _, event in records]
    assert len(got_ids) == len(set(got_ids)), (
        f"{len(got_ids) - len(set(got_ids))} duplicated events"
    )
    assert len(records) == len(expected), (
        f"consumed {len(records)} events, the simulator made {len(expected)}"
    )
    by_id = {event["event_id"]: event for _, _, event in records}
    for event in expected:
        assert by_id[event["event_id"]] == event, f"event {event['event_id']} differs"

    # Messages of one partition are in records in offset order.
    order_in_topic: dict[str, list[str]] = defaultdict(list)
    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    for key, partition, event in records:
        order_in_topic[key].append(event["event_id"])
        partitions_of_key[key].add(partition)
    order_simulated: dict[str, list[str]] = defaultdict(list)
    for event in expected:
        key = event.get("interaction_id") or event.get("agent_id") or event["event_id"]
        order_simulated[key].append(event["event_id"])
    assert order_in_topic.keys() == order_simulated.keys()
    for key, ids in order_simulated.items():
        assert order_in_topic[key] == ids, f"events of {key} are out of order"
        assert len(partitions_of_key[key]) == 1, f"{key} spread over partitions"


@pytest.mark.kafka
def test_a_streamed_day_comes_back_equal_to_the_simulation(
    bootstrap: str, topic: str, default_config: CenterConfig
) -> None:
    done = cctwin(
        "stream", str(CONFIG), "--day", DAY.isoformat(), "--seed", str(SEED),
        "--speed", "max", "--bootstrap", bootstrap, "--topic", topic,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    expected = simulate_day_events(default_config, DAY, SEED)
    assert f"{len(expected):,}" in done.stdout, done.stdout
    records = consume(bootstrap, topic, len(expected))
    assert_same_events(records, expected)
    assert {partition for _, partition, _ in records} == {0, 1, 2}


@pytest.mark.kafka
def test_a_replayed_file_comes_back_equal_and_bad_lines_are_set_aside(
    bootstrap: str, topic: str, default_config: CenterConfig, tmp_path: Path
) -> None:
    expected = simulate_day_events(default_config, DAY, SEED + 1)
    source = tmp_path / "events.jsonl"
    lines = [json.dumps(event) for event in expected]
    lines.insert(100, "{this is not an event")
    source.write_text("\n".join(lines) + "\n")

    done = cctwin(
        "stream", "--from-file", str(source), "--speed", "max",
        "--bootstrap", bootstrap, "--topic", topic,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    assert_same_events(consume(bootstrap, topic, len(expected)), expected)
    rejected = tmp_path / "events.jsonl.rejected.jsonl"
    assert "1 line(s) were not usable" in done.stderr
    set_aside = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [(r["line"], r["text"]) for r in set_aside] == [
        (101, "{this is not an event")
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_missing_broker_fails_within_seconds_naming_it_and_the_fix() -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = cctwin(
        "stream", str(CONFIG), "--day", DAY.isoformat(), "--speed", "max",
        "--bootstrap", address, timeout=60,
    )  # fmt: skip
    elapsed = time.monotonic() - started

    assert done.returncode == 1
    assert address in done.stderr
    assert "scripts/services kafka start" in done.stderr
    assert elapsed < 30, f"took {elapsed:.0f} s to give up"


# --- a broker that dies in the middle of a stream ----------------------------


def private_services(state: Path) -> dict[str, str]:
    """The environment of a broker of this test's own: own state, own ports."""
    return {
        **os.environ,
        "CCTWIN_STATE_DIR": str(state),
        "CCTWIN_KAFKA_HOST": "127.0.0.1",
        "CCTWIN_KAFKA_PORT": str(free_port()),
        "CCTWIN_KAFKA_CONTROLLER_PORT": str(free_port()),
        "CCTWIN_START_TIMEOUT": "120",
    }


def services(env: dict[str, str], *verb: str) -> None:
    done = subprocess.run(
        [str(SERVICES), "kafka", *verb],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"scripts/services kafka {' '.join(verb)}:\n" + (
        done.stderr
    )


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = private_services(tmp_path / "services")
    try:
        services(env, "start")
        yield env
    finally:
        services(env, "stop")


def produced_so_far(address: str, topic: str) -> int:
    """Messages in the topic now (0 while it does not exist yet)."""
    consumer = KafkaConsumer(bootstrap_servers=address, bootstrap_timeout_ms=5_000)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return 0
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        consumer.close()


@pytest.mark.kafka
def test_a_broker_killed_mid_stream_loses_nothing_silently(
    private_broker: dict[str, str], default_config: CenterConfig, tmp_path: Path
) -> None:
    env = private_broker
    address = f"127.0.0.1:{env['CCTWIN_KAFKA_PORT']}"
    topic = new_topic_name()
    days = [DAY + dt.timedelta(days=i) for i in range(3)]
    expected = [e for day in days for e in simulate_day_events(default_config, day, 5)]
    source = tmp_path / "three-days.jsonl"
    source.write_text("".join(json.dumps(event) + "\n" for event in expected))

    log = (tmp_path / "stream.out").open("w+")
    stream = subprocess.Popen(
        [sys.executable, "-m", "cctwin.cli", "stream", "--from-file", str(source),
         "--speed", "max", "--bootstrap", address, "--topic", topic],
        stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        # Kill only once events are flowing, and well before the end.
        deadline = time.monotonic() + 60
        while produced_so_far(address, topic) < 2_000:
            assert stream.poll() is None, "the stream ended before the broker died"
            assert time.monotonic() < deadline, "no events reached the broker"
            time.sleep(0.1)
        pid = int((Path(env["CCTWIN_STATE_DIR"]) / "kafka" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        assert stream.poll() is None, "the stream ended before the broker died"

        services(env, "start")  # same state directory: the data survives
        status = stream.wait(timeout=STREAM_TIMEOUT_S)
    finally:
        if stream.poll() is None:
            stream.kill()
            stream.wait(timeout=10)
    log.seek(0)
    output = log.read()
    log.close()

    if status == 0:
        assert f"{len(expected):,}" in output, output
        assert_same_events(consume(address, topic, len(expected)), expected)
    else:
        # Failing is allowed, but only loudly, with the count lost, and what
        # did arrive must still be free of duplicates.
        assert status == 1, output
        assert "were not acknowledged" in output, output
        records = consume(address, topic, len(expected))
        ids = [event["event_id"] for _, _, event in records]
        assert len(ids) == len(set(ids)), "duplicates after a broker restart"


@pytest.mark.kafka
def test_ctrl_c_flushes_and_reports_exactly_what_was_delivered(
    bootstrap: str, topic: str, default_config: CenterConfig
) -> None:
    stream = subprocess.Popen(
        [sys.executable, "-m", "cctwin.cli", "stream", str(CONFIG),
         "--day", DAY.isoformat(), "--seed", str(SEED), "--speed", "600",
         "--bootstrap", bootstrap, "--topic", topic],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while produced_so_far(bootstrap, topic) < 50:
            assert stream.poll() is None, "the stream ended before Ctrl-C"
            assert time.monotonic() < deadline, "no events reached the broker"
            time.sleep(0.1)
        stream.send_signal(signal.SIGINT)
        out, err = stream.communicate(timeout=60)
    finally:
        if stream.poll() is None:
            stream.kill()
            stream.wait(timeout=10)

    assert stream.returncode == 130, err
    found = re.search(r"interrupted: ([\d,]+) events delivered", err)
    assert found, err
    delivered = int(found.group(1).replace(",", ""))
    expected = simulate_day_events(default_config, DAY, SEED)
    assert 50 <= delivered < len(expected)
    assert f"{delivered:,}" in out, out
    # What arrived is exactly the first events of the day, nothing more.
    assert_same_events(consume(bootstrap, topic, delivered), expected[:delivered])
