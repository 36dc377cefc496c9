"""Running the aggregator: events from Kafka (or a JSONL file) into ``/metrics``.

Kafka path, at least once: a batch is polled, applied to the working state,
its rejected messages are forwarded to the dead-letter topic with their
reason, the working state and offsets are checkpointed (when a state file is
given), the offsets are committed by hand, and only then is the state
published. A failed commit undoes the batch. When the broker is unreachable
the consumer keeps retrying with a growing backoff, shows
``cctwin_aggregator_broker_up 0`` and logs ``event=broker_unreachable``; it
resumes from the committed offset (or the checkpoint's, when the checkpoint
is ahead: it was written just before a commit that did not land).

A restart with the same ``--state-file`` continues the counts where the
checkpoint left them, so a killed process loses nothing and counts nothing
twice. Without a state file a restart starts from zero counts at the
committed offset (Prometheus sees a counter reset).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.agreements import check_supported
from aggregator.exposition import Collector, build_registry
from aggregator.health import Health
from aggregator.log import log
from aggregator.pipeline import Pipeline, Rejected
from cctwin.config.models import CenterConfig
from cctwin.kafka_client import client_options, describe

FILE_BATCH = 2_000
"""Lines applied and published together when reading a file."""

SESSION_TIMEOUT_MS = 10_000
"""How soon the group gives a dead process's partitions to the others.

kafka-python 3 waits 45 s by default; live figures should not freeze that long.
"""

MAX_POLL_RECORDS = 5_000
"""Messages per Kafka batch: bigger batches commit less often per event."""

LAG_REFRESH_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class Settings:
    """How one aggregator process runs (from the ``aggregate`` command's flags)."""

    port: int = 9464
    address: str = "0.0.0.0"
    bootstrap: str | None = None
    topic: str | None = None
    group: str | None = None
    dead_letter_topic: str | None = None
    state_file: Path | None = None
    clock: str = "wall"


def now_ms() -> int:
    """Wall-clock UTC milliseconds."""
    return time.time_ns() // 1_000_000


def serve(
    config: CenterConfig, pipeline: Pipeline, settings: Settings
) -> tuple[Any, Callable[[], int]]:
    """Start ``/metrics`` on its own registry; return the server and the clock."""
    from prometheus_client import start_http_server

    def event_clock() -> int:
        return pipeline.published.watermark_ms

    clock = event_clock if settings.clock == "event" else now_ms
    collector = Collector(
        config,
        lambda: pipeline.published,
        clock,
        pipeline.health,
        time.time,
        lambda: pipeline.published_health,
    )
    server, _ = start_http_server(
        settings.port, settings.address, registry=build_registry(collector)
    )
    log("metrics_serving", address=settings.address, port=server.server_port)
    return server, clock


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _: Any) -> None:
        log("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


LOGGED_PER_REASON = 10
"""Rejections logged one by one per reason; later ones are only counted."""


def log_rejection(health: Health, source: str, rejected: Rejected) -> None:
    """Log a rejection (reason and detail only: no value that was sent)."""
    reason = rejected.rejection.reason
    seen = health.invalid.get(reason, 0)
    if seen <= LOGGED_PER_REASON:
        log(
            "event_rejected",
            level="warning",
            source=source,
            reason=reason,
            detail=rejected.rejection.detail,
            note="further rejections of this reason are counted, not logged"
            if seen == LOGGED_PER_REASON
            else "",
        )


def read_file(pipeline: Pipeline, lines: Iterable[bytes], source: str) -> int:
    """Apply JSONL lines in batches, publishing after each; return rejections."""
    rejected = 0
    batch = 0
    pipeline.begin()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result = pipeline.feed(line.rstrip(b"\r\n"), f"{source}:{number}")
        if result is not None:
            rejected += 1
            log_rejection(pipeline.health, result.source, result)
        batch += 1
        if batch >= FILE_BATCH:
            pipeline.commit()
            pipeline.begin()
            batch = 0
    pipeline.commit()
    return rejected


def run_file(config: CenterConfig, path: Path, settings: Settings) -> None:
    """Aggregate a JSONL file, then keep serving ``/metrics`` until stopped."""
    check_supported(config)
    pipeline = Pipeline(config)
    stop = _stop_on_signals()
    server, _ = serve(config, pipeline, settings)
    started = time.monotonic()
    with path.open("rb") as handle:
        rejected = read_file(pipeline, handle, path.name)
    log(
        "file_done",
        path=path,
        events=pipeline.health.consumed,
        rejected=rejected,
        duplicates=pipeline.health.duplicates,
        seconds=round(time.monotonic() - started, 3),
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()


def _load_checkpoint(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    with path.open("rb") as handle:
        checkpoint = pickle.load(handle)
    if not isinstance(checkpoint, dict) or "state" not in checkpoint:
        raise ValueError(f"{path} is not an aggregator checkpoint")
    return checkpoint


def _write_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    # Write beside, then rename: a kill mid-write leaves the previous checkpoint.
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        pickle.dump(checkpoint, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


class KafkaAggregator:
    """The consumer loop of one aggregator process in a consumer group."""

    def __init__(self, config: CenterConfig, settings: Settings) -> None:
        check_supported(config)
        self.config = config
        self.settings = settings
        self.topic = settings.topic or config.kafka.topic
        self.group = settings.group or config.kafka.consumer_group
        self.dead_letter_topic = (
            settings.dead_letter_topic or config.kafka.dead_letter_topic
        )
        self.options = client_options(config.kafka, settings.bootstrap)
        self.health = Health()
        self.pipeline = Pipeline(config, self.health)
        checkpoint = _load_checkpoint(settings.state_file)
        if checkpoint is not None:
            self.pipeline.resume(checkpoint)
            log(
                "checkpoint_loaded",
                path=settings.state_file,
                partitions=len(checkpoint["offsets"]),
            )
        self._producer: Any = None
        self._assigned: set[Any] = set()
        self._backoff = 0.5
        self._next_lag_check = 0.0

    def _consumer(self) -> Any:
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        consumer = KafkaConsumer(
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=MAX_POLL_RECORDS,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=SESSION_TIMEOUT_MS // 4,
            **self.options,
        )
        pending = self._assigned

        class Resume(ConsumerRebalanceListener):
            """Note new partitions; the checkpoint is applied after the poll.

            kafka-python fails a rebalance whose callback talks to the group
            coordinator (``committed()``), so the callback only takes note.
            """

            def on_partitions_revoked(self, revoked: Any) -> None:
                log("partitions_revoked", partitions=_names(revoked))

            def on_partitions_assigned(self, assigned: Any) -> None:
                pending.update(assigned)
                log("partitions_assigned", partitions=_names(assigned))

        consumer.subscribe(topics=[self.topic], listener=Resume())
        return consumer

    def _dead_letter(self, rejected: list[Rejected]) -> None:
        if not rejected:
            return
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(acks="all", **self.options)
        for item in rejected:
            rejection = item.rejection
            value = (
                json.dumps(rejection.payload, separators=(",", ":")).encode()
                if rejection.payload is not None
                else item.raw
            )
            headers = [
                ("cctwin-reason", rejection.reason.encode()),
                ("cctwin-detail", rejection.detail.encode()),
                ("cctwin-source", item.source.encode()),
            ]
            self._producer.send(self.dead_letter_topic, value=value, headers=headers)
        self._producer.flush(timeout=10)
        self.health.dead_lettered += len(rejected)

    def _broker_down(self, error: Exception, what: str) -> None:
        if self.health.broker_up:
            log(
                "broker_unreachable",
                level="error",
                during=what,
                error=type(error).__name__,
            )
        self.health.broker_up = 0

    def _broker_back(self) -> None:
        if not self.health.broker_up:
            log("broker_reachable")
        self.health.broker_up = 1
        self._backoff = 0.5

    def _commit(
        self,
        consumer: Any,
        partitions: set[tuple[str, int]],
        rejected: list[Rejected],
        stop: threading.Event,
    ) -> bool:
        """Dead-letter, checkpoint, commit; retry while the broker is down."""
        from kafka import TopicPartition
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(
                self.pipeline.offsets[(topic, partition)], "", -1
            )
            for topic, partition in partitions
        }
        sent = False
        while True:
            try:
                if not sent:
                    self._dead_letter(rejected)
                    sent = True
                if self.settings.state_file is not None:
                    _write_checkpoint(
                        self.settings.state_file, self._working_checkpoint()
                    )
                consumer.commit(offsets)
            except CommitFailedError as error:
                # The group moved on: these partitions are someone else's now.
                self.health.commits_failed += 1
                self._undo()
                log(
                    "commit_failed_batch_undone",
                    level="warning",
                    error=type(error).__name__,
                )
                return False
            except KafkaError as error:
                self.health.commits_failed += 1
                self._broker_down(error, "commit")
                if stop.wait(self._backoff):
                    self._undo()
                    return False
                self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            self._broker_back()
            return True

    def _working_checkpoint(self) -> dict[str, Any]:
        return {
            "state": self.pipeline.state.snapshot(),
            "offsets": {f"{t}:{p}": o for (t, p), o in self.pipeline.offsets.items()},
        }

    def _undo(self) -> None:
        self.pipeline.undo()
        if self.settings.state_file is not None:
            _write_checkpoint(self.settings.state_file, self._working_checkpoint())

    def _refresh_lag(self, consumer: Any) -> None:
        from kafka.errors import KafkaError

        now = time.monotonic()
        if now < self._next_lag_check:
            return
        assigned = consumer.assignment()
        try:
            ends = (
                consumer.end_offsets(list(assigned), timeout_ms=2_000)
                if assigned
                else {}
            )
            lag = {
                tp.partition: max(0, end - consumer.position(tp, timeout_ms=2_000))
                for tp, end in ends.items()
            }
        except KafkaError as error:
            self._broker_down(error, "lag")
            self._next_lag_check = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
            return
        self.health.consumer_lag = lag
        self._broker_back()
        self._next_lag_check = now + LAG_REFRESH_SECONDS

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; commit what was applied, then close."""
        from kafka.errors import KafkaError

        log(
            "consumer_starting",
            topic=self.topic,
            group=self.group,
            options=describe(self.options),
        )
        consumer = self._consumer()
        try:
            while not stop.is_set():
                try:
                    batch = consumer.poll(timeout_ms=500)
                except KafkaError as error:
                    self._broker_down(error, "poll")
                    log("poll_failed", level="warning", error=repr(error)[:200])
                    stop.wait(self._backoff)
                    self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                if self._assigned:
                    batch = self._resume(consumer, batch)
                if batch:
                    self._apply(consumer, batch, stop)
                self._refresh_lag(consumer)
        finally:
            consumer.close(autocommit=False)
            if self._producer is not None:
                self._producer.close(timeout=5)
            log("consumer_stopped", consumed=self.health.consumed)

    def _resume(
        self, consumer: Any, batch: dict[Any, list[Any]]
    ) -> dict[Any, list[Any]]:
        """Seek new partitions to the checkpoint where it is ahead of the commit.

        The checkpoint is ahead when this process applied and checkpointed a
        batch whose commit never landed (killed in between): those records
        are in the counts already, so they are skipped, not applied again.
        """
        from kafka.errors import KafkaError

        try:
            for tp in list(self._assigned):
                ours = self.pipeline.offsets.get((tp.topic, tp.partition))
                committed = consumer.committed(tp)
                if ours is not None and (committed is None or ours > committed):
                    kept = [r for r in batch.get(tp, []) if r.offset >= ours]
                    if not kept:
                        # The position is at or before the checkpoint: move it.
                        consumer.seek(tp, ours)
                    batch[tp] = kept
                    log(
                        "partition_resumed_from_checkpoint",
                        partition=tp.partition,
                        offset=ours,
                    )
                self._assigned.discard(tp)
        except KafkaError as error:
            # Nothing of this batch is applied: rewind so it is fetched again.
            self._broker_down(error, "resume")
            for tp, records in batch.items():
                if records:
                    consumer.seek(tp, records[0].offset)
            return {}
        return {tp: records for tp, records in batch.items() if records}

    def _apply(
        self, consumer: Any, batch: dict[Any, list[Any]], stop: threading.Event
    ) -> None:
        pipeline = self.pipeline
        pipeline.begin()
        rejected: list[Rejected] = []
        partitions: set[tuple[str, int]] = set()
        # One clock reading per batch: the far-future check needs no finer one.
        now_ms = time.time_ns() // 1_000_000
        for tp, records in batch.items():
            for record in records:
                result = pipeline.feed(record.value or b"", "", now_ms)
                if result is not None:
                    # Named only when needed: most messages are never rejected.
                    source = f"{tp.topic}/{tp.partition}/{record.offset}"
                    result = Rejected(source, result.rejection, result.raw)
                    rejected.append(result)
                    log_rejection(self.health, source, result)
            pipeline.mark(tp.topic, tp.partition, records[-1].offset + 1)
            partitions.add((tp.topic, tp.partition))
        if self._commit(consumer, partitions, rejected, stop):
            pipeline.commit()
            self.health.last_commit_s = time.time()


def _names(partitions: Iterable[Any]) -> str:
    return ",".join(sorted(f"{tp.topic}/{tp.partition}" for tp in partitions)) or "-"


def run_kafka(config: CenterConfig, settings: Settings) -> None:
    """Aggregate from Kafka in the config's consumer group until SIGTERM/SIGINT."""
    aggregator = KafkaAggregator(config, settings)
    stop = _stop_on_signals()
    server, _ = serve(config, aggregator.pipeline, settings)
    try:
        aggregator.run(stop)
    finally:
        server.shutdown()
