"""The real local services that the live path needs: Kafka and Prometheus.

These tests run against the broker and the server that ``scripts/services`` starts;
they never skip. A service that is not reachable is a failure whose message says how
to start it. Each test names its own topic and consumer group, so pytest-xdist can run
them side by side.
"""

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError

# Same variables and defaults as scripts/services.
KAFKA_HOST = os.environ.get("CCTWIN_KAFKA_HOST", "127.0.0.1")
KAFKA_PORT = int(os.environ.get("CCTWIN_KAFKA_PORT", "9092"))
KAFKA_BOOTSTRAP = f"{KAFKA_HOST}:{KAFKA_PORT}"
PROMETHEUS_URL = "http://{}:{}".format(
    os.environ.get("CCTWIN_PROMETHEUS_HOST", "127.0.0.1"),
    os.environ.get("CCTWIN_PROMETHEUS_PORT", "9090"),
)

# kafka-python 3 waits 30 s by default before giving up on an unreachable bootstrap
# server; the tests (and the twin's own clients) bound it lower.
BOOTSTRAP_TIMEOUT_MS = 5_000

MESSAGES = 1_000
KEYS = 20  # like queues: few keys, many events each, order that matters per key
PARTITIONS = 3


@pytest.fixture(scope="module")
def kafka_bootstrap() -> str:
    """Return the bootstrap address once the broker accepts TCP connections."""
    try:
        socket.create_connection((KAFKA_HOST, KAFKA_PORT), timeout=5).close()
    except OSError as error:
        problem = str(error)
    else:
        return KAFKA_BOOTSTRAP
    # Failed outside the except block, so pytest shows one message and no traceback.
    pytest.fail(
        f"Kafka is not reachable at {KAFKA_BOOTSTRAP} ({problem}); "
        "start it with `scripts/services kafka start`",
        pytrace=False,
    )


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    """Create a fresh topic with three partitions, and delete it after the test."""
    name = f"cctwin-test-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(
        bootstrap_servers=kafka_bootstrap, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS
    )
    try:
        admin.create_topics(
            [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)]
        )
        yield name
        admin.delete_topics([name])
    finally:
        admin.close()


def _wait_for_prometheus() -> None:
    """Fail the test, saying how to start Prometheus, when it does not answer."""
    try:
        with urllib.request.urlopen(f"{PROMETHEUS_URL}/-/ready", timeout=5) as response:
            response.read()
    except OSError as error:
        problem = str(error)
    else:
        return
    pytest.fail(
        f"Prometheus is not ready at {PROMETHEUS_URL} ({problem}); "
        "start it with `scripts/services prometheus start`",
        pytrace=False,
    )


def _prometheus_api(path: str, **params: str) -> dict[str, Any]:
    """GET a Prometheus HTTP API path and return its decoded JSON body."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{PROMETHEUS_URL}{path}{query}", timeout=10) as resp:
        body: dict[str, Any] = json.load(resp)
    return body


@pytest.mark.kafka
def test_keyed_messages_come_back_complete_and_in_order_per_key(topic: str) -> None:
    producer = KafkaProducer(
        bootstrap_servers=KAFKA_BOOTSTRAP,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        acks="all",
        enable_idempotence=True,
    )
    futures = []
    for seq in range(MESSAGES):
        key = f"queue-{seq % KEYS:02d}"
        value = json.dumps({"key": key, "seq": seq}).encode()
        futures.append(producer.send(topic, key=key.encode(), value=value))
    producer.flush(timeout=30)
    producer.close()
    # Every send must have been acknowledged by the broker, not only buffered.
    for future in futures:
        future.get(timeout=0)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: dict[str, list[int]] = defaultdict(list)
    partitions_of_key: dict[str, set[int]] = defaultdict(set)
    count = 0
    deadline = time.monotonic() + 60
    try:
        while count < MESSAGES and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1_000).values():
                for record in records:
                    value = json.loads(record.value)
                    received[record.key.decode()].append(value["seq"])
                    partitions_of_key[record.key.decode()].add(record.partition)
                    count += 1
        consumer.commit()
    finally:
        consumer.close()

    assert count == MESSAGES, f"received {count} of {MESSAGES} messages within 60 s"
    assert len(received) == KEYS
    for key, seqs in received.items():
        assert seqs == sorted(seqs), f"messages of {key} arrived out of order"
        assert len(partitions_of_key[key]) == 1, f"{key} spread over partitions"
    used = set().union(*partitions_of_key.values())
    assert used == set(range(PARTITIONS)), f"keys used only partitions {sorted(used)}"


def test_client_pointed_at_a_closed_port_fails_fast_and_names_the_address() -> None:
    # Binding to port 0 and closing again gives a port on which nothing listens.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    address = f"127.0.0.1:{closed_port}"

    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError, match=f"Unable to bootstrap from {address}"):
        KafkaProducer(
            bootstrap_servers=address, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS
        )
    elapsed = time.monotonic() - started

    assert elapsed < 15, f"the client took {elapsed:.1f} s to give up"


@pytest.mark.prometheus
def test_prometheus_is_ready() -> None:
    _wait_for_prometheus()
    with urllib.request.urlopen(f"{PROMETHEUS_URL}/-/ready", timeout=5) as response:
        assert response.status == 200


@pytest.mark.prometheus
def test_prometheus_answers_an_instant_query() -> None:
    _wait_for_prometheus()
    body = _prometheus_api("/api/v1/query", query="up")
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"


@pytest.mark.prometheus
def test_prometheus_loaded_the_aggregator_scrape_job() -> None:
    _wait_for_prometheus()
    body = _prometheus_api("/api/v1/targets", state="active")
    jobs = {target["labels"]["job"] for target in body["data"]["activeTargets"]}
    assert "cctwin-aggregator" in jobs, f"active scrape jobs: {sorted(jobs)}"
