"""Publishing contract events to a Kafka topic, and accounting for every delivery.

One :class:`Publisher` wraps a kafka-python producer with the config's
``kafka.producer`` settings (acks, idempotence, linger, batch size). Each event
is keyed so that everything about one interaction lands on one partition, in
order: the interaction id, else the agent id (agent state changes), else the
event id. Every send is counted as produced, and as delivered only when the
broker acknowledges it, so a stream can always say how many events did not
make it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from cctwin.config.models import Kafka
from cctwin.kafka_client import BOOTSTRAP_TIMEOUT_MS, client_options

log = logging.getLogger(__name__)

START_HINT = "start the local broker with `scripts/services kafka start`"


class StreamError(RuntimeError):
    """A stream that cannot start, or that ends with events unacknowledged.

    The message says what happened, with the broker address and the counts,
    and what to do next.
    """


def event_key(event: Mapping[str, Any]) -> bytes:
    """The partitioning key of an event (see the module docstring)."""
    key = event.get("interaction_id") or event.get("agent_id") or event["event_id"]
    return str(key).encode()


def encode_event(event: Mapping[str, Any]) -> bytes:
    """An event as compact JSON, the topic's value format (UTF-8)."""
    # ASCII escapes keep any text (even a lone surrogate from a file) encodable.
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Target:
    """Where events go: the broker list and the topic (with its partitions)."""

    bootstrap: str
    topic: str
    partitions: int


def resolve_target(
    settings: Kafka, bootstrap: str | None = None, topic: str | None = None
) -> Target:
    """The config's ``kafka`` section with the ``--bootstrap``/``--topic`` flags."""
    return Target(
        bootstrap=bootstrap or settings.bootstrap,
        topic=topic or settings.topic,
        partitions=settings.partitions,
    )


def producer_options(
    settings: Kafka,
    bootstrap: str | None = None,
    environ: Mapping[str, str] | None = None,
    connect_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS,
) -> dict[str, Any]:
    """Keyword arguments of the ``KafkaProducer`` a stream uses.

    The connection and security options come from
    :func:`cctwin.kafka_client.client_options`; the producer section of the
    config adds durability and batching.
    """
    producer = settings.producer
    options = client_options(settings, bootstrap, environ)
    options.update(
        bootstrap_timeout_ms=connect_timeout_ms,
        acks=producer.acks if producer.acks == "all" else int(producer.acks),
        enable_idempotence=producer.idempotence,
        linger_ms=producer.linger_ms,
        batch_size=producer.batch_size_bytes,
        compression_type=None if producer.compression == "none" else "gzip",
        request_timeout_ms=producer.request_timeout_ms,
        delivery_timeout_ms=producer.delivery_timeout_ms,
        # A send blocks at most this long when the buffer is full or the
        # topic's metadata is unknown (broker away), then fails loudly.
        max_block_ms=producer.request_timeout_ms,
        # kafka-python backs off up to 30 s between reconnects; a broker that
        # restarts in ten seconds would then idle the stream for twenty more.
        reconnect_backoff_max_ms=2_000,
    )
    return options


def _unreachable(target: Target, seconds: float, error: Exception) -> StreamError:
    return StreamError(
        f"no Kafka broker answered at {target.bootstrap} within {seconds:.0f} s "
        f"({error}); {START_HINT}, "
        "or point --bootstrap HOST:PORT at a running broker"
    )


class Publisher:
    """A producer for one topic that counts produced and acknowledged events.

    Use as a context manager: entering connects (failing within
    ``connect_timeout_ms`` when no broker answers) and creates the topic with
    the configured partitions when it does not exist; leaving closes the
    producer.
    """

    def __init__(
        self,
        settings: Kafka,
        target: Target,
        environ: Mapping[str, str] | None = None,
        connect_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS,
    ) -> None:
        self.settings = settings
        self.target = target
        self.options = producer_options(
            settings, target.bootstrap, environ, connect_timeout_ms
        )
        self.connect_timeout_ms = connect_timeout_ms
        self.produced = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: BaseException | None = None
        self._producer: KafkaProducer | None = None

    def __enter__(self) -> Publisher:
        self.ensure_topic()
        try:
            self._producer = KafkaProducer(**self.options)
        except KafkaError as error:
            raise _unreachable(
                self.target, self.connect_timeout_ms / 1000, error
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ensure_topic(self) -> None:
        """Create the topic with the configured partitions if it is missing.

        Replication is left to the broker's default, so a real cluster gets
        its usual replication factor and the local one-node broker gets one.
        """
        admin_options = {
            key: value
            for key, value in self.options.items()
            if key in KafkaAdminClient.DEFAULT_CONFIG
        }
        try:
            admin = KafkaAdminClient(**admin_options)
        except KafkaError as error:
            raise _unreachable(
                self.target, self.connect_timeout_ms / 1000, error
            ) from None
        try:
            admin.create_topics(
                [NewTopic(self.target.topic, num_partitions=self.target.partitions)]
            )
        except TopicAlreadyExistsError:
            pass
        except KafkaError as error:
            raise StreamError(
                f"could not create topic {self.target.topic!r} on "
                f"{self.target.bootstrap}: {error}; create it yourself or fix "
                "the producer's permissions"
            ) from None
        finally:
            admin.close()

    def send(self, event: Mapping[str, Any]) -> None:
        """Hand one event to the producer (asynchronous; counted when acked).

        Raises:
            StreamError: if an earlier event failed for good, or the producer
                could not take this one within ``max_block_ms``. Sending stops
                there, so the events that did arrive have no gap after them.
        """
        if self.failed:
            raise self._lost_error()
        assert self._producer is not None, "use Publisher as a context manager"
        try:
            future = self._producer.send(
                self.target.topic, key=event_key(event), value=encode_event(event)
            )
        except KafkaError as error:
            self.produced += 1
            self._record_failure(error)
            raise self._lost_error() from None
        # Counted once the producer holds it, so a Ctrl-C that lands before
        # this line leaves no phantom event in the count.
        self.produced += 1
        future.add_callback(self._acknowledged)
        future.add_errback(self._record_failure)

    def _acknowledged(self, _metadata: object) -> None:
        # Runs on the producer's I/O thread, its only writer.
        self.delivered += 1

    def _record_failure(self, error: BaseException) -> None:
        if self.first_error is None:
            self.first_error = error
            log.warning(
                "stream.delivery_failed topic=%s bootstrap=%s error=%r",
                self.target.topic,
                self.target.bootstrap,
                error,
            )
        self.failed += 1

    @property
    def unacknowledged(self) -> int:
        """Events produced that the broker has not (or not yet) acknowledged."""
        return self.produced - self.delivered

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait for every produced event to be acknowledged or to fail.

        The wait is bounded by the delivery timeout (plus a margin) unless
        ``timeout_s`` says otherwise; afterwards every count is final.

        Raises:
            StreamError: if any event is not acknowledged, with the count.
        """
        if self._producer is None:
            return
        limit = (
            self.settings.producer.delivery_timeout_ms / 1000 + 5
            if timeout_s is None
            else timeout_s
        )
        try:
            self._producer.flush(timeout=limit)
        except KafkaError as error:
            self._record_failure(error)
        # Callbacks run on the I/O thread just after a batch completes; give
        # the last ones a moment so the counts below are final.
        settle = time.monotonic() + 2.0
        while (
            self.delivered + self.failed < self.produced and time.monotonic() < settle
        ):
            time.sleep(0.01)
        if self.unacknowledged > 0:
            raise self._lost_error()

    def _lost_error(self) -> StreamError:
        reason = f" (first error: {self.first_error!r})" if self.first_error else ""
        return StreamError(
            f"{self.unacknowledged:,} of {self.produced:,} events were not "
            f"acknowledged by {self.target.bootstrap} (topic {self.target.topic}; "
            f"{self.delivered:,} delivered){reason}; check the broker "
            "(`scripts/services kafka status`) and stream again"
        )

    def close(self) -> None:
        """Close the producer (waiting briefly for anything still in flight)."""
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
