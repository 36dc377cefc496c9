"""Shared helpers of the aggregator tests: a day's event log, its reference
figures, and the real processes (aggregator, Prometheus, Kafka) they drive.

The reference figures are computed here from the event log with plain,
independent code: no import from ``aggregator`` or ``cctwin.metrics``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cctwin.config import CenterConfig, load_config
from simulator.day_events import simulate_day_events

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = ROOT / "config" / "sdm-bogota.yaml"
DAY = dt.date(2026, 4, 6)
SEED = 7

KAFKA_HOST = os.environ.get("CCTWIN_KAFKA_HOST", "127.0.0.1")
KAFKA_PORT = int(os.environ.get("CCTWIN_KAFKA_PORT", "9092"))
KAFKA_BOOTSTRAP = f"{KAFKA_HOST}:{KAFKA_PORT}"

SATISFIED = 0.9  # ANS 7: a survey scoring at least 4.5 of 5
MICRO = 1_000_000  # sums of real numbers are exact integers of millionths


def micro(value: float) -> int:
    return round(value * MICRO)


@functools.cache
def config() -> CenterConfig:
    return load_config(CONFIG_PATH)


def _at(day: dt.date, hour: int, minute: int) -> str:
    # Bogotá is UTC-5 all year.
    instant = dt.datetime(day.year, day.month, day.day, hour + 5, minute, tzinfo=dt.UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def fact_events(seed: int = SEED) -> list[dict[str, Any]]:
    """Events of the kinds the simulator does not emit, drawn with a seed."""
    rng = random.Random(seed)
    center = config().center.id
    out: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        minute = rng.randrange(7 * 60, 18 * 60)
        out.append(
            {
                "event_id": f"fact-{seed}-{len(out)}",
                "type": kind,
                "time": _at(DAY, minute // 60, minute % 60),
                "schema_version": 1,
                "center": center,
                **fields,
            }
        )

    for _ in range(60):
        add("survey_answered", score=rng.choice([2, 3, 4, 4.5, 5]), scale_max=5)
    for _ in range(7):
        add("complaint_filed")
    for _ in range(40):
        add(
            "quality_audited",
            critical_user_ok=rng.random() < 0.95,
            critical_business_ok=rng.random() < 0.97,
            by_entity=rng.random() < 0.3,
        )
    for _ in range(80):
        add("contact_resolved", first_contact=rng.random() < 0.85)
    for _ in range(3):
        messages = rng.randrange(500, 5000)
        add("campaign_sent", messages=messages, errors=rng.choice([0, 0, 3]))
    for group in ("general", "virtual"):
        add("staff_changed", change="left", group=group)
    add("staff_changed", change="hired", group="general")
    for _ in range(12):
        add("knowledge_evaluated", score=round(rng.uniform(0.7, 1.0), 3))
    for _ in range(4):
        add("supervisor_evaluated", score=round(rng.uniform(0.8, 1.0), 3))
    add("service_availability", available_seconds=39_580.0, period_seconds=39_600.0)
    for _ in range(3):
        add("resource_provisioned", days=rng.choice([2, 3, 5]))
    return out


@functools.cache
def day_events() -> tuple[dict[str, Any], ...]:
    """The simulated day plus the fact events, in time order (stable)."""
    events = simulate_day_events(config(), DAY, SEED) + fact_events()
    return tuple(sorted(events, key=lambda event: event["time"]))


def write_jsonl(
    path: Path, events: list[dict[str, Any]] | tuple[dict[str, Any], ...]
) -> Path:
    with path.open("w") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
    return path


def _ms(text: str) -> int:
    instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
        milliseconds=1
    )


def reference_counts(
    events: list[dict[str, Any]] | tuple[dict[str, Any], ...], complete: bool = True
) -> dict[str, Any]:
    """Per channel, group and fact: the counts behind the agreements."""
    center = config()
    channel: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    group: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    facts: dict[str, float] = defaultdict(float)
    timelines: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    seen: set[str] = set()

    for event in events:
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        kind = event["type"]
        if kind == "agent_state":
            timelines[event["agent_id"]].append((_ms(event["time"]), event))
            continue
        if kind in (
            "answered",
            "abandoned",
            "callback_attempted",
            "outbound_attempted",
        ):
            name = event["channel"]
            level = center.channels[name].service_level
            threshold = level.threshold_seconds if level else -1.0
            short = level.short_abandon_seconds if level else 0.0
            wait = event["wait_seconds"]
            answered = kind == "answered" or event.get("outcome") == "reached"
            counts = channel[name]
            counts["offered"] += 1
            if answered:
                counts["answered"] += 1
                counts["wait_answered_us"] += micro(wait)
                if wait <= threshold:
                    counts["answered_within"] += 1
            else:
                counts["abandoned"] += 1
                if wait < short:
                    counts["abandoned_short"] += 1
                elif wait <= threshold:
                    counts["abandoned_within"] += 1
        elif kind == "ended":
            channel[event["channel"]]["handle_us"] += micro(
                event["talk_seconds"] + event["hold_seconds"] + event["wrap_up_seconds"]
            )
        elif kind == "survey_answered":
            facts["surveys"] += 1
            facts["satisfied"] += event["score"] >= SATISFIED * event["scale_max"]
        elif kind == "complaint_filed":
            facts["complaints"] += 1
        elif kind == "quality_audited":
            who = "entity" if event["by_entity"] else "provider"
            facts[f"{who}_audits"] += 1
            facts[f"{who}_user_ok"] += event["critical_user_ok"]
            facts[f"{who}_business_ok"] += event["critical_business_ok"]
        elif kind == "contact_resolved":
            facts["resolved"] += 1
            facts["first_contact"] += event["first_contact"]
        elif kind == "campaign_sent":
            facts["messages"] += event["messages"]
            facts["message_errors"] += event["errors"]
        elif kind == "staff_changed":
            facts[f"staff_{event['change']}"] += 1
        elif kind in ("knowledge_evaluated", "supervisor_evaluated"):
            facts[f"{kind}_n"] += 1
            facts[f"{kind}_sum"] += micro(event["score"])
        elif kind == "service_availability":
            facts["available"] += micro(event["available_seconds"])
            facts["period"] += micro(event["period_seconds"])
        elif kind == "resource_provisioned":
            facts["provisionings"] += 1
            facts["days"] += micro(event["days"])

    for counts in channel.values():
        counts["wait_answered_seconds"] = counts.pop("wait_answered_us", 0) / MICRO
        counts["handle_seconds"] = counts.pop("handle_us", 0) / MICRO
    sums = ("knowledge_evaluated_sum", "supervisor_evaluated_sum", "available")
    for name in (*sums, "period", "days"):
        facts[name] = facts[name] / MICRO
    for timeline in timelines.values():
        timeline.sort(key=lambda item: item[0])
        for (start, event), (end, _) in itertools.pairwise(timeline):
            counts = group[event["group"]]
            state = event["state"]
            scheduled = event.get("scheduled_state", "offline")
            spent = end - start
            if state in ("busy", "wrap_up"):
                counts["busy_ms"] += spent
            if state == "available":
                counts["available_ms"] += spent
            if scheduled != "offline":
                counts["scheduled_ms"] += spent
                working = state in ("available", "busy", "wrap_up")
                if (scheduled == "available" and working) or state == scheduled:
                    counts["adherent_ms"] += spent
        last = timeline[-1][1]
        if not complete:
            continue
        # The day ends with every agent logged out and scheduled off.
        assert last["state"] == "offline" and last.get("scheduled_state") == "offline"
    return {"channel": channel, "group": group, "facts": facts}


def _div(a: float, b: float) -> float | None:
    return a / b if b else None


def reference_agreements(
    events: list[dict[str, Any]] | tuple[dict[str, Any], ...],
) -> dict[int, float | None]:
    """Every agreement of the config over the whole log, by plain arithmetic."""
    center = config()
    counts = reference_counts(events)
    channel, group, facts = counts["channel"], counts["group"], counts["facts"]
    headcount = max(
        sum(
            shift.agents
            for g in center.agent_groups.values()
            for shift in g.shifts
            if day in shift.days
        )
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    out: dict[int, float | None] = {}
    for agreement in center.agreements:
        chans = agreement.channels

        def pooled(field: str, chans: list[str] = chans) -> float:
            total = 0.0
            for name in chans:
                total += channel[name][field]
            return total

        metric = agreement.metric
        if metric == "service_level":
            value = _div(
                pooled("answered_within"), pooled("offered") - pooled("abandoned_short")
            )
        elif metric == "asa_seconds":
            value = _div(pooled("wait_answered_seconds"), pooled("answered"))
        elif metric == "handle_time_seconds":
            value = _div(pooled("handle_seconds"), pooled("answered"))
        elif metric == "answer_rate":
            value = _div(pooled("answered"), pooled("offered"))
        elif metric == "abandonment":
            value = _div(pooled("abandoned"), pooled("offered"))
        elif metric == "occupancy":
            busy = sum(group[g]["busy_ms"] for g in agreement.groups)
            available = sum(group[g]["available_ms"] for g in agreement.groups)
            value = _div(busy, busy + available)
        elif metric == "adherence":
            value = _div(
                sum(group[g]["adherent_ms"] for g in agreement.groups),
                sum(group[g]["scheduled_ms"] for g in agreement.groups),
            )
        elif metric == "complaint_rate":
            value = _div(facts["complaints"], pooled("answered", list(center.channels)))
        elif metric == "turnover":
            value = _div(facts["staff_left"], headcount)
        elif metric == "satisfaction":
            value = _div(facts["satisfied"], facts["surveys"])
        elif metric == "critical_user_accuracy":
            value = _div(facts["provider_user_ok"], facts["provider_audits"])
        elif metric == "critical_business_accuracy":
            value = _div(facts["provider_business_ok"], facts["provider_audits"])
        elif metric == "critical_user_audit_gap":
            own = _div(facts["provider_user_ok"], facts["provider_audits"])
            entity = _div(facts["entity_user_ok"], facts["entity_audits"])
            value = None if own is None or entity is None else abs(own - entity)
        elif metric == "knowledge_score":
            value = _div(
                facts["knowledge_evaluated_sum"], facts["knowledge_evaluated_n"]
            )
        elif metric == "supervisor_score":
            value = _div(
                facts["supervisor_evaluated_sum"], facts["supervisor_evaluated_n"]
            )
        elif metric == "first_contact_resolution":
            value = _div(facts["first_contact"], facts["resolved"])
        elif metric == "campaign_error_rate":
            value = _div(facts["message_errors"], facts["messages"])
        elif metric == "availability":
            value = _div(facts["available"], facts["period"])
        elif metric == "provisioning_days":
            value = _div(facts["days"], facts["provisionings"])
        else:
            raise AssertionError(f"no reference for {metric}")
        out[agreement.id] = value
    return out


# --------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int, timeout: float = 5.0) -> Samples:
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/metrics", timeout=timeout
    ) as r:
        text = r.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def agreements_from(samples: Samples, window: str = "today") -> dict[int, float | None]:
    """Agreement id -> exposed figure (``None`` where has_data is 0)."""
    out: dict[int, float | None] = {}
    for (name, labels), value in samples.items():
        label = dict(labels)
        if name == "cctwin_agreement_has_data" and label["window"] == window:
            out.setdefault(int(label["id"]), None)
        if name == "cctwin_agreement" and label["window"] == window:
            out[int(label["id"])] = value
    return out


def window_counts(
    samples: Samples, window: str = "today"
) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["count"], dict(labels)["scope"]): value
        for (name, labels), value in samples.items()
        if name == "cctwin_window_count" and dict(labels)["window"] == window
    }


def value_of(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


class Aggregator:
    """A ``cctwin aggregate`` process on a free port, stopped on exit."""

    def __init__(
        self, args: list[str], log_path: Path, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._log = log_path.open("ab")
        command = [
            sys.executable, "-m", "cctwin.cli", "aggregate",
            "--config", str(CONFIG_PATH), "--port", str(self.port),
            "--address", "127.0.0.1", *args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=self._log, cwd=ROOT
        )

    def wait_until(
        self, check: Callable[[Samples], bool], timeout: float, what: str
    ) -> Samples:
        deadline = time.monotonic() + timeout
        last_error = "no scrape yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"aggregator exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                samples = scrape(self.port)
            except OSError as error:
                last_error = str(error)
            else:
                if check(samples):
                    return samples
                last_error = "condition not met"
            time.sleep(0.2)
        pytest.fail(
            f"timed out after {timeout}s waiting for {what} ({last_error}):\n"
            + self.log()
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def consumed(samples: Samples) -> float:
    return value_of(samples, "cctwin_aggregator_events_consumed_total")


def kafka_reachable(bootstrap: str = KAFKA_BOOTSTRAP) -> str:
    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        pytest.fail(
            f"Kafka is not reachable at {bootstrap} ({error}); "
            "start it with `scripts/services kafka start`",
            pytrace=False,
        )
    return bootstrap


def create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def event_key(event: dict[str, Any]) -> bytes:
    """Events of one interaction (or one agent) share a partition, in order."""
    return str(
        event.get("interaction_id") or event.get("agent_id") or event["event_id"]
    ).encode()


def produce(bootstrap: str, topic: str, events: Any, pace: float | None = None) -> None:
    """Send events (dicts or raw bytes) and wait until the broker has them all."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all", linger_ms=5)
    try:
        for n, event in enumerate(events):
            if isinstance(event, bytes):
                producer.send(topic, value=event)
            else:
                producer.send(
                    topic, key=event_key(event), value=json.dumps(event).encode()
                )
            if pace and n % 100 == 99:
                time.sleep(100 / pace)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


class PrivatePrometheus:
    """A ``prometheus`` process of its own: tmp data, free port, the repo's rules."""

    def __init__(self, folder: Path, target_port: int) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail(
                "the prometheus binary is missing; install it with "
                "`scripts/services prometheus start`",
                pytrace=False,
            )
        rules = ROOT / "prometheus" / "rules"
        (folder / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{rules}/*.yml']\n"
            "scrape_configs:\n"
            "  - job_name: cctwin-aggregator\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log = (folder / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=self._log,
            stderr=self._log,
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        full = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(full, timeout=5) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        assert body["status"] == "success", (expr, body)
        return list(body["data"]["result"])

    def wait_for(
        self, expr: str, count: int, timeout: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                result = self.query(expr)
            except OSError:
                result = []
            if len(result) >= count:
                return result
            time.sleep(0.5)
        pytest.fail(f"Prometheus returned {len(result)} of {count} series for {expr}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
