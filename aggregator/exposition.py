"""The aggregator's ``/metrics``: its state rendered as Prometheus metric families.

One custom collector on the process's own ``CollectorRegistry`` (never the
global one, no multiprocess mode) reads the last *published* state at scrape
time: counters from the totals, the wait histogram, gauges of what is waiting
and who is doing what now, each agreement per window, the window counts the
recording rules pool across processes, and the pipeline's self-metrics.
Names follow DESIGN.md: ``cctwin_`` prefix, base units, few label values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from aggregator import agreements
from aggregator.health import Health
from aggregator.state import Histogram, State
from aggregator.windows import WINDOWS
from cctwin.config.models import CenterConfig
from cctwin.metrics import COUNT_FIELDS

CONTACT_COUNTERS: dict[str, tuple[str, dict[str, str], str]] = {
    "arrived": (
        "cctwin_arrived",
        {},
        "Contacts that entered the channel (voice: the IVR).",
    ),
    "ivr_self_served": (
        "cctwin_ivr_self_served",
        {},
        "Contacts served by the IVR alone.",
    ),
    "queued": ("cctwin_queued", {}, "Contacts that joined an agent queue."),
    "offered": (
        "cctwin_offered",
        {},
        "Contacts offered to agents, counted at their outcome.",
    ),
    "answered": (
        "cctwin_answered",
        {},
        "Offered contacts answered (callbacks: reached).",
    ),
    "abandoned": (
        "cctwin_abandoned",
        {},
        "Offered contacts abandoned (callbacks: not reached or expired).",
    ),
    "abandoned_short": (
        "cctwin_abandoned_short",
        {},
        "Abandons shorter than the short-abandon bound.",
    ),
    "wait_answered_seconds": (
        "cctwin_answered_wait_seconds",
        {},
        "Sum of the waits of answered contacts.",
    ),
    "callbacks_requested": ("cctwin_callbacks_requested", {}, "Callback requests."),
    "callbacks_reached": (
        "cctwin_callbacks_reached",
        {},
        "Callbacks that reached the citizen.",
    ),
    "transferred": ("cctwin_transferred", {}, "Contacts transferred to another queue."),
    "talk_seconds": (
        "cctwin_handle_seconds",
        {"part": "talk"},
        "Handle time of ended contacts, by part.",
    ),
    "hold_seconds": ("cctwin_handle_seconds", {"part": "hold"}, ""),
    "wrap_up_seconds": ("cctwin_handle_seconds", {"part": "wrap_up"}, ""),
}
"""Contact count -> (counter name, fixed labels, help), labelled channel and queue."""

FACT_COUNTERS: dict[str, tuple[str, dict[str, str], str]] = {
    "surveys": ("cctwin_surveys", {}, "Satisfaction surveys answered."),
    "surveys_satisfied": (
        "cctwin_surveys_satisfied",
        {},
        "Surveys scoring at least 90% of their scale.",
    ),
    "complaints": ("cctwin_complaints", {}, "Complaints filed."),
    "audits": (
        "cctwin_quality_audits",
        {"by": "provider"},
        "Quality audits, by who audited.",
    ),
    "entity_audits": ("cctwin_quality_audits", {"by": "entity"}, ""),
    "audits_user_ok": (
        "cctwin_quality_audits_user_ok",
        {"by": "provider"},
        "Audits without a critical user error.",
    ),
    "entity_audits_user_ok": ("cctwin_quality_audits_user_ok", {"by": "entity"}, ""),
    "audits_business_ok": (
        "cctwin_quality_audits_business_ok",
        {"by": "provider"},
        "Audits without a critical business error.",
    ),
    "entity_audits_business_ok": (
        "cctwin_quality_audits_business_ok",
        {"by": "entity"},
        "",
    ),
    "resolutions": ("cctwin_resolutions", {}, "Contacts resolved."),
    "resolutions_first_contact": (
        "cctwin_resolutions_first_contact",
        {},
        "Contacts resolved at first contact.",
    ),
    "campaign_messages": ("cctwin_campaign_messages", {}, "Campaign messages sent."),
    "campaign_errors": (
        "cctwin_campaign_errors",
        {},
        "Campaign messages sent with a critical error.",
    ),
    "knowledge_evaluations": (
        "cctwin_evaluations",
        {"kind": "knowledge"},
        "Evaluations, by kind.",
    ),
    "supervisor_evaluations": ("cctwin_evaluations", {"kind": "supervisor"}, ""),
    "knowledge_score_sum": (
        "cctwin_evaluation_score",
        {"kind": "knowledge"},
        "Sum of evaluation scores (0-1 each), by kind.",
    ),
    "supervisor_score_sum": ("cctwin_evaluation_score", {"kind": "supervisor"}, ""),
    "service_available_seconds": (
        "cctwin_service_available_seconds",
        {},
        "Seconds the service was available.",
    ),
    "service_period_seconds": (
        "cctwin_service_period_seconds",
        {},
        "Seconds of availability reported on.",
    ),
    "provisionings": ("cctwin_provisionings", {}, "Provisioning requests completed."),
    "provisioning_days_sum": (
        "cctwin_provisioning_days",
        {},
        "Sum of provisioning days.",
    ),
}
"""Center-wide count -> (counter name, fixed labels, help)."""

AGENT_STATES_COUNTED = ("available", "busy", "wrap_up", "break")

AGENT_COUNTS = (
    *(f"agent_{state}_ms" for state in AGENT_STATES_COUNTED),
    "agent_scheduled_ms",
    "agent_adherent_ms",
    "staff_left",
    "staff_hired",
)
"""Per-group counts (milliseconds of agent time, staff changes)."""


def scope_label(name: str) -> str:
    """The ``count`` label of a window count: agent milliseconds become seconds."""
    return name[:-3] + "_seconds" if name.endswith("_ms") else name


def base_counts(config: CenterConfig) -> dict[tuple[str, str], float]:
    """Zero for every window count an agreement or rule reads."""
    keys: dict[tuple[str, str], float] = {}
    for channel in config.channels:
        for name in (*COUNT_FIELDS, "waiting_missed"):
            keys[(name, channel)] = 0.0
    for group in config.agent_groups:
        for name in AGENT_COUNTS:
            keys[(name, group)] = 0.0
    for name in FACT_COUNTERS:
        keys[(name, "")] = 0.0
    return keys


def histogram_keys(config: CenterConfig) -> list[tuple[str, str]]:
    """(channel, outcome) of every wait histogram a channel can fill."""
    keys = []
    for name, channel in config.channels.items():
        if channel.kind == "callback":
            keys.append((name, "callback"))
        elif channel.service_level is not None:
            keys += [(name, "answered"), (name, "abandoned")]
    return keys


class Collector:
    """Renders the published state at scrape time (a prometheus-client collector).

    ``source`` returns the state to show (the last committed one) and
    ``counted`` the message counts published with it; ``clock`` gives the
    current time in UTC milliseconds (wall time when live, the newest event
    time when replaying), ``health`` the live broker, lag and commit gauges.
    """

    def __init__(
        self,
        config: CenterConfig,
        source: Callable[[], State],
        clock: Callable[[], int],
        health: Health,
        wall_clock: Callable[[], float],
        counted: Callable[[], Health] | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.clock = clock
        self.health = health
        self.counted = counted or (lambda: health)
        self.wall_clock = wall_clock
        self.queues = {name: channel.queue for name, channel in config.channels.items()}
        self.staff = agreements.headcount(config)
        self.base_counts = base_counts(config)
        self.histogram_keys = histogram_keys(config)

    def describe(self) -> list[Metric]:
        """Nothing up front: names are known only at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every metric family of one scrape."""
        state = self.source()
        now_ms = max(self.clock(), 0)
        yield from self._counters(state, now_ms)
        yield self._histogram(state)
        yield from self._gauges(state, now_ms)
        yield from self._agreements(state, now_ms)
        yield from self._self_metrics(state)

    def _counters(self, state: State, now_ms: int) -> Iterator[Metric]:
        totals = state.totals_at(now_ms)
        families: dict[str, CounterMetricFamily] = {}

        def family(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
            if name not in families:
                families[name] = CounterMetricFamily(name, doc or name, labels=labels)
            return families[name]

        for count, (name, fixed, doc) in CONTACT_COUNTERS.items():
            metric = family(name, doc, ["channel", "queue", *fixed])
            for channel, queue in self.queues.items():
                value = totals.get((count, channel), 0.0)
                metric.add_metric([channel, queue, *fixed.values()], value)
        for count, (name, fixed, doc) in FACT_COUNTERS.items():
            metric = family(name, doc, list(fixed))
            metric.add_metric(list(fixed.values()), totals.get((count, ""), 0.0))

        states = family(
            "cctwin_agent_state_seconds",
            "Agent time in each logged-in state, including the state in progress.",
            ["group", "state"],
        )
        scheduled = family(
            "cctwin_agent_scheduled_seconds",
            "Agent time scheduled to work or rest.",
            ["group"],
        )
        adherent = family(
            "cctwin_agent_adherent_seconds",
            "Scheduled time spent in the scheduled state.",
            ["group"],
        )
        staff = family(
            "cctwin_staff_changes", "Staff hired or who left.", ["group", "change"]
        )
        for group in self.config.agent_groups:
            for agent_state in AGENT_STATES_COUNTED:
                ms = totals.get((f"agent_{agent_state}_ms", group), 0.0)
                states.add_metric([group, agent_state], ms / 1000)
            scheduled.add_metric(
                [group], totals.get(("agent_scheduled_ms", group), 0.0) / 1000
            )
            adherent.add_metric(
                [group], totals.get(("agent_adherent_ms", group), 0.0) / 1000
            )
            for change in ("hired", "left"):
                staff.add_metric(
                    [group, change], totals.get((f"staff_{change}", group), 0.0)
                )
        yield from families.values()

    def _histogram(self, state: State) -> Metric:
        metric = HistogramMetricFamily(
            "cctwin_wait_seconds",
            "Wait before the outcome, by outcome (answered, abandoned, callback).",
            labels=["channel", "queue", "outcome"],
        )
        bounds = [floatToGoString(b) for b in state.bounds] + ["+Inf"]
        empty = Histogram([0] * (len(state.bounds) + 1))
        shown = {key: empty for key in self.histogram_keys} | state.histograms
        for (channel, outcome), histogram in sorted(shown.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, histogram.buckets, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            metric.add_metric(
                [channel, self.queues[channel], outcome], cumulative, histogram.total
            )
        return metric

    def _gauges(self, state: State, now_ms: int) -> Iterator[Metric]:
        labels = ["channel", "queue"]
        waiting = GaugeMetricFamily(
            "cctwin_waiting_contacts", "Contacts waiting now.", labels=labels
        )
        oldest = GaugeMetricFamily(
            "cctwin_oldest_wait_seconds",
            "Wait so far of the oldest waiting contact.",
            labels=labels,
        )
        over = GaugeMetricFamily(
            "cctwin_waiting_over_threshold",
            "Contacts waiting past the service-level threshold (already misses).",
            labels=labels,
        )
        now_waiting = state.waiting(now_ms)
        for channel, queue in self.queues.items():
            count, age, missed = now_waiting.get(channel, (0, 0.0, 0))
            waiting.add_metric([channel, queue], count)
            oldest.add_metric([channel, queue], age)
            over.add_metric([channel, queue], missed)
        yield from (waiting, oldest, over)

        agents = GaugeMetricFamily(
            "cctwin_agents", "Agents by group and state now.", labels=["group", "state"]
        )
        by_state = state.agents_by_state()
        for group in self.config.agent_groups:
            for agent_state in ("offline", *AGENT_STATES_COUNTED):
                agents.add_metric(
                    [group, agent_state], by_state.get((group, agent_state), 0)
                )
        yield agents

    def _agreements(self, state: State, now_ms: int) -> Iterator[Metric]:
        ans_labels = ["id", "name", "metric", "window"]
        figure = GaugeMetricFamily(
            "cctwin_agreement",
            "Each agreement (ANS) per window; absent when there is no data.",
            labels=ans_labels,
        )
        has_data = GaugeMetricFamily(
            "cctwin_agreement_has_data",
            "1 when the agreement has data in the window, else 0.",
            labels=ans_labels,
        )
        met = GaugeMetricFamily(
            "cctwin_agreement_met",
            "1 when the window's figure meets the target, else 0.",
            labels=ans_labels,
        )
        target = GaugeMetricFamily(
            "cctwin_agreement_target",
            "Target of each agreement.",
            labels=["id", "name", "metric", "direction"],
        )
        counts_family = GaugeMetricFamily(
            "cctwin_window_count",
            "Counts behind the agreements per window, summed by the recording rules.",
            labels=["window", "count", "scope"],
        )
        for agreement in self.config.agreements:
            target.add_metric(
                [
                    str(agreement.id),
                    agreement.name,
                    agreement.metric,
                    agreement.direction.value,
                ],
                agreement.target,
            )
        for window in WINDOWS:
            counts = state.window_counts(window, now_ms)
            # Every count the rules read is shown, zero or not: PromQL drops a
            # ratio when one side has no series at all.
            shown_counts = {**self.base_counts, **counts}
            for (name, scope), value in sorted(shown_counts.items()):
                shown = value / 1000 if name.endswith("_ms") else value
                counts_family.add_metric([window, scope_label(name), scope], shown)
            for agreement in self.config.agreements:
                labels = [str(agreement.id), agreement.name, agreement.metric, window]
                figure_value = agreements.value(
                    self.config, agreement, counts, self.staff
                )
                has_data.add_metric(labels, 0.0 if figure_value is None else 1.0)
                if figure_value is not None:
                    figure.add_metric(labels, figure_value)
                    meets = agreement.met_by(figure_value)
                    met.add_metric(labels, 1.0 if meets else 0.0)
        yield from (figure, has_data, met, target, counts_family)

    def _self_metrics(self, state: State) -> Iterator[Metric]:
        health = self.counted()
        simple = [
            (
                "cctwin_aggregator_events_consumed",
                "Messages read (redeliveries included).",
                health.consumed,
            ),
            (
                "cctwin_aggregator_events_duplicate",
                "Valid events dropped as duplicates by id.",
                health.duplicates,
            ),
            (
                "cctwin_aggregator_dead_lettered",
                "Rejected messages forwarded to the dead-letter topic.",
                health.dead_lettered,
            ),
            (
                "cctwin_aggregator_fields_dropped",
                "Fields outside the contract dropped on entry.",
                health.fields_dropped,
            ),
            (
                "cctwin_aggregator_commits_failed",
                "Offset commits that failed.",
                health.commits_failed,
            ),
            (
                "cctwin_aggregator_batches_undone",
                "Batches undone after a failed commit.",
                health.undone_batches,
            ),
            (
                "cctwin_aggregator_late_agent_events",
                "Agent state changes older than the state in force.",
                state.late_agent_events,
            ),
            (
                "cctwin_aggregator_stale_waiting_dropped",
                "Waiting contacts dropped after 4 h without an outcome.",
                state.stale_waiting_dropped,
            ),
        ]
        for name, doc, value in simple:
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], value)
            yield counter
        invalid = CounterMetricFamily(
            "cctwin_aggregator_events_invalid",
            "Messages rejected, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(health.invalid.items()):
            invalid.add_metric([reason], count)
        yield invalid

        lag = GaugeMetricFamily(
            "cctwin_aggregator_consumer_lag_messages",
            "Messages behind the end of each assigned partition.",
            labels=["partition"],
        )
        for partition, behind in sorted(self.health.consumer_lag.items()):
            lag.add_metric([str(partition)], behind)
        yield lag
        newest = state.watermark_ms / 1000
        event_lag = self.wall_clock() - newest if state.watermark_ms else 0.0
        yield GaugeMetricFamily(
            "cctwin_aggregator_event_time_lag_seconds",
            "How far behind the wall clock the newest event time is.",
            value=event_lag,
        )
        yield GaugeMetricFamily(
            "cctwin_aggregator_newest_event_timestamp_seconds",
            "Time of the newest event applied (Unix seconds).",
            value=newest,
        )
        yield GaugeMetricFamily(
            "cctwin_aggregator_last_commit_timestamp_seconds",
            "When offsets were last committed (Unix seconds; 0 before the first).",
            value=self.health.last_commit_s,
        )
        yield GaugeMetricFamily(
            "cctwin_aggregator_broker_up",
            "1 while the Kafka broker answers, else 0.",
            value=self.health.broker_up,
        )


def build_registry(collector: Collector) -> CollectorRegistry:
    """A fresh registry holding only the aggregator's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
