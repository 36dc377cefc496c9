"""The aggregator's live state: counts by channel, group and fact, over time.

Each valid event adds to named counts (a *count key* is ``(name, scope)``,
the scope being a channel, an agent group or ``""`` for center-wide facts).
Counts are kept three ways: totals since the state was created (exposed as
Prometheus counters), per UTC minute for the last hour and per local day for
two months (read back as the windows of :mod:`aggregator.windows`). The
contact counts are exactly ``cctwin.metrics.COUNT_FIELDS``, tallied by enqueue
time as the simulator tallies them, so the same formulas give the same
figures.

Time an agent spends in a state is counted in integer milliseconds (event
times carry milliseconds), and every other sum of real numbers (waits, handle
times, scores) in integer millionths (:data:`MICRO_SUMS`), so a sum is exact
whatever order its events arrive in: partitions interleave freely, several
processes split the log, and every path still gives the same figure.

Contacts still waiting and the state each agent is in now are kept apart
and read at scrape time, so a board shows the caller who has waited ten
minutes before anyone answers them.

Memory is bounded: minute and day buckets are pruned as the clock moves,
waiting contacts older than :data:`MAX_WAIT_MS` are dropped (their outcome
event was lost), agents offline for a day are forgotten.
"""

from __future__ import annotations

import bisect
import math
import pickle
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aggregator.decode import Event
from aggregator.windows import (
    DAY_MS,
    DAY_RETENTION,
    MINUTE_MS,
    MINUTE_RETENTION,
    WINDOWS,
    LocalTime,
)
from cctwin.config.models import CenterConfig

Key = tuple[str, str]
"""A count: ``(name, scope)``; scope is a channel, a group or ``""``."""

Counts = dict[Key, float]

SATISFIED_SHARE = 0.9
"""A survey is satisfied when it scores at least this share of its scale.

The contract's ANS 7 counts surveys scoring at least 4.5 of 5.
"""

MAX_WAIT_MS = 4 * 3_600_000
"""A contact waiting longer than this lost its outcome event; it is dropped."""

AGENT_FORGET_MS = DAY_MS
"""An agent offline (and scheduled offline) this long is forgotten."""

WORKING_STATES = frozenset({"available", "busy", "wrap_up"})
"""Agent states that adhere to a scheduled ``available`` (working) period."""

OCCUPIED_STATES = ("busy", "wrap_up")
"""States that count as busy with contacts for occupancy."""

WAIT_BOUNDS: tuple[float, ...] = (
    0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 70.0, 72.0, 90.0, 120.0,
    180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
)  # fmt: skip
"""Default wait histogram bounds; every configured threshold is added to them."""

MICRO_SUMS = frozenset(
    {
        "wait_answered_seconds",
        "handle_seconds",
        "talk_seconds",
        "hold_seconds",
        "wrap_up_seconds",
        "knowledge_score_sum",
        "supervisor_score_sum",
        "service_available_seconds",
        "service_period_seconds",
        "provisioning_days_sum",
    }
)
"""Sums kept in integer millionths of their unit (microseconds for times).

Floating-point addition is not associative: summed in arrival order, the
same events give figures that differ in the last digits. Each value is
rounded once to a millionth and the integers add exactly.
"""

MICRO = 1_000_000

RESOLVED_MEMORY = 65_536
"""Interactions whose outcome was seen, so a late ``queued`` does not re-open them."""


def wait_bounds(config: CenterConfig) -> tuple[float, ...]:
    """Histogram bounds: the defaults plus the config's thresholds, exactly.

    Every service-level threshold, short-abandon bound and time-to-answer
    target becomes a bound, so ``le`` buckets answer "within T" exactly.
    """
    bounds = set(WAIT_BOUNDS)
    for channel in config.channels.values():
        if channel.service_level is not None:
            bounds.add(float(channel.service_level.threshold_seconds))
            if channel.service_level.short_abandon_seconds > 0:
                bounds.add(float(channel.service_level.short_abandon_seconds))
    for agreement in config.agreements:
        if agreement.threshold_seconds is not None:
            bounds.add(float(agreement.threshold_seconds))
        if agreement.metric == "asa_seconds":
            bounds.add(float(agreement.target))
    return tuple(sorted(bounds))


@dataclass
class Agent:
    """What an agent is doing now, since when, and what the schedule says."""

    group: str
    state: str
    scheduled: str
    since_ms: int


@dataclass
class Histogram:
    """Cumulative-free bucket counts (one per bound, plus +Inf), count and sum."""

    buckets: list[int]
    count: int = 0
    total: float = 0.0


@dataclass
class State:
    """Counts, waiting contacts and agents of one aggregator process.

    Build it with :meth:`for_config`; feed it valid events with :meth:`apply`;
    read it with :meth:`window_counts`, :meth:`waiting` and :meth:`totals_at`.
    Copy it with :meth:`snapshot` / :meth:`restore` (a plain pickle: the
    process's own checkpoint, never read from anyone else).
    """

    local: LocalTime
    thresholds_ms: dict[str, float]
    short_ms: dict[str, float]
    bounds: tuple[float, ...]
    kinds: dict[str, str]
    totals: Counts = field(default_factory=dict)
    minutes: dict[int, Counts] = field(default_factory=dict)
    days: dict[int, Counts] = field(default_factory=dict)
    histograms: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    waiting_contacts: dict[str, tuple[str, int]] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    resolved: deque[str] = field(default_factory=deque)
    resolved_set: set[str] = field(default_factory=set)
    watermark_ms: int = 0
    late_agent_events: int = 0
    stale_waiting_dropped: int = 0

    @classmethod
    def for_config(cls, config: CenterConfig) -> State:
        """An empty state for a center: its zone, thresholds and histogram bounds."""
        thresholds: dict[str, float] = {}
        shorts: dict[str, float] = {}
        for name, channel in config.channels.items():
            definition = channel.service_level
            # Channels without a service level count none "within" (as simulated).
            thresholds[name] = (
                definition.threshold_seconds * 1000 if definition else -math.inf
            )
            shorts[name] = (
                definition.short_abandon_seconds * 1000 if definition else 0.0
            )
        return cls(
            local=LocalTime(config.center.timezone),
            thresholds_ms=thresholds,
            short_ms=shorts,
            bounds=wait_bounds(config),
            kinds={name: channel.kind for name, channel in config.channels.items()},
        )

    # ------------------------------------------------------------------ apply

    def apply(self, event: Event) -> None:
        """Add one valid event's effects (the caller has already deduplicated)."""
        if event.time_ms > self.watermark_ms:
            self._advance(event.time_ms)
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    def _add(self, name: str, scope: str, value: float, at_ms: int) -> None:
        if name in MICRO_SUMS:
            value = round(value * MICRO)
        key = (name, scope)
        self.totals[key] = self.totals.get(key, 0.0) + value
        minute = at_ms // MINUTE_MS
        if minute > self.watermark_ms // MINUTE_MS - MINUTE_RETENTION:
            bucket = self.minutes.setdefault(minute, {})
            bucket[key] = bucket.get(key, 0.0) + value
        day_number = self.local.day(at_ms)
        # Older than the retention: in the totals only, or memory would grow
        # with every very late event.
        if day_number >= self.local.day(self.watermark_ms) - DAY_RETENTION:
            day = self.days.setdefault(day_number, {})
            day[key] = day.get(key, 0.0) + value

    def _advance(self, time_ms: int) -> None:
        """Move the event-time watermark and prune what fell out of retention."""
        old_minute = self.watermark_ms // MINUTE_MS
        self.watermark_ms = time_ms
        minute = time_ms // MINUTE_MS
        if minute == old_minute:
            return
        oldest = minute - MINUTE_RETENTION
        for key in [key for key in self.minutes if key <= oldest]:
            del self.minutes[key]
        first_day = self.local.day(time_ms) - DAY_RETENTION
        for key in [key for key in self.days if key < first_day]:
            del self.days[key]
        for interaction, (_, enqueued) in list(self.waiting_contacts.items()):
            if time_ms - enqueued > MAX_WAIT_MS:
                del self.waiting_contacts[interaction]
                self.stale_waiting_dropped += 1
        for agent_id, agent in list(self.agents.items()):
            idle = agent.state == "offline" and agent.scheduled == "offline"
            if idle and time_ms - agent.since_ms > AGENT_FORGET_MS:
                del self.agents[agent_id]

    def _resolve(self, interaction: str) -> None:
        self.waiting_contacts.pop(interaction, None)
        if interaction not in self.resolved_set:
            self.resolved.append(interaction)
            self.resolved_set.add(interaction)
            if len(self.resolved) > RESOLVED_MEMORY:
                self.resolved_set.discard(self.resolved.popleft())

    def _observe_wait(self, channel: str, outcome: str, wait_seconds: float) -> None:
        histogram = self.histograms.get((channel, outcome))
        if histogram is None:
            histogram = Histogram([0] * (len(self.bounds) + 1))
            self.histograms[(channel, outcome)] = histogram
        histogram.buckets[bisect.bisect_left(self.bounds, wait_seconds)] += 1
        histogram.count += 1
        histogram.total += wait_seconds

    def _outcome(self, event: Event, answered: bool) -> None:
        """One contact's outcome: the ``COUNT_FIELDS`` tally of the simulator."""
        fields = event.fields
        channel = fields["channel"]
        wait = float(fields["wait_seconds"])
        at = event.enqueued_ms if event.enqueued_ms is not None else event.time_ms
        threshold = self.thresholds_ms[channel] / 1000
        self._add("offered", channel, 1.0, at)
        if answered:
            self._add("answered", channel, 1.0, at)
            self._add("wait_answered_seconds", channel, wait, at)
            if wait <= threshold:
                self._add("answered_within", channel, 1.0, at)
        else:
            self._add("abandoned", channel, 1.0, at)
            short = wait < self.short_ms[channel] / 1000
            if short:
                self._add("abandoned_short", channel, 1.0, at)
            elif wait <= threshold:
                self._add("abandoned_within", channel, 1.0, at)
        self._resolve(fields["interaction_id"])

    # ------------------------------------------------------------ event kinds

    def _on_arrived(self, event: Event) -> None:
        self._add("arrived", event.fields["channel"], 1.0, event.time_ms)

    def _on_ivr_self_served(self, event: Event) -> None:
        self._add("ivr_self_served", event.fields["channel"], 1.0, event.time_ms)

    def _on_queued(self, event: Event) -> None:
        fields = event.fields
        assert event.enqueued_ms is not None
        self._add("queued", fields["channel"], 1.0, event.enqueued_ms)
        interaction = fields["interaction_id"]
        if interaction not in self.resolved_set:
            self.waiting_contacts[interaction] = (fields["channel"], event.enqueued_ms)

    def _on_callback_requested(self, event: Event) -> None:
        fields = event.fields
        assert event.enqueued_ms is not None
        self._add("callbacks_requested", fields["channel"], 1.0, event.enqueued_ms)
        interaction = fields["interaction_id"]
        if interaction not in self.resolved_set:
            self.waiting_contacts[interaction] = (fields["channel"], event.enqueued_ms)

    def _on_answered(self, event: Event) -> None:
        self._observe_wait(
            event.fields["channel"], "answered", event.fields["wait_seconds"]
        )
        self._outcome(event, answered=True)

    def _on_abandoned(self, event: Event) -> None:
        self._observe_wait(
            event.fields["channel"], "abandoned", event.fields["wait_seconds"]
        )
        self._outcome(event, answered=False)

    def _on_attempt(self, event: Event) -> None:
        fields = event.fields
        reached = fields["outcome"] == "reached"
        if event.kind == "callback_attempted":
            self._observe_wait(fields["channel"], "callback", fields["wait_seconds"])
            if reached:
                at = (
                    event.enqueued_ms
                    if event.enqueued_ms is not None
                    else event.time_ms
                )
                self._add("callbacks_reached", fields["channel"], 1.0, at)
        self._outcome(event, answered=reached)

    def _on_ended(self, event: Event) -> None:
        fields = event.fields
        channel = fields["channel"]
        at = event.enqueued_ms if event.enqueued_ms is not None else event.time_ms
        talk = float(fields["talk_seconds"])
        hold = float(fields["hold_seconds"])
        wrap = float(fields["wrap_up_seconds"])
        self._add("handle_seconds", channel, talk + hold + wrap, at)
        self._add("talk_seconds", channel, talk, at)
        self._add("hold_seconds", channel, hold, at)
        self._add("wrap_up_seconds", channel, wrap, at)

    def _on_transferred(self, event: Event) -> None:
        self._add("transferred", event.fields["channel"], 1.0, event.time_ms)

    def _on_agent_state(self, event: Event) -> None:
        fields = event.fields
        agent_id = fields["agent_id"]
        scheduled = fields.get("scheduled_state", "offline")
        current = self.agents.get(agent_id)
        if current is not None:
            if event.time_ms < current.since_ms:
                # NOTE: an agent's state is a timeline; a change older than the
                # one in force cannot be placed without rewriting that timeline,
                # so it is counted and left out.
                self.late_agent_events += 1
                return
            self._spend(current, current.since_ms, event.time_ms)
        self.agents[agent_id] = Agent(
            fields["group"], fields["state"], scheduled, event.time_ms
        )

    def _spend(self, agent: Agent, start_ms: int, end_ms: int) -> None:
        """Add an agent's time in one state to its group's counts.

        The time is split by minute (within retention) and by local day.
        """
        if end_ms <= start_ms:
            return
        names = agent_time_names(agent.state, agent.scheduled)
        if not names:
            return
        group = agent.group
        for name in names:
            key = (name, group)
            self.totals[key] = self.totals.get(key, 0.0) + (end_ms - start_ms)
        first_minute = self.watermark_ms // MINUTE_MS - MINUTE_RETENTION + 1
        begin = max(start_ms, first_minute * MINUTE_MS)
        while begin < end_ms:
            edge = min(end_ms, (begin // MINUTE_MS + 1) * MINUTE_MS)
            bucket = self.minutes.setdefault(begin // MINUTE_MS, {})
            for name in names:
                bucket[(name, group)] = bucket.get((name, group), 0.0) + (edge - begin)
            begin = edge
        first_day_ms = self.local.day_start_ms(
            self.local.day(self.watermark_ms) - DAY_RETENTION
        )
        begin = max(start_ms, first_day_ms)
        while begin < end_ms:
            day = self.local.day(begin)
            edge = min(end_ms, self.local.day_start_ms(day + 1))
            bucket = self.days.setdefault(day, {})
            for name in names:
                bucket[(name, group)] = bucket.get((name, group), 0.0) + (edge - begin)
            begin = edge

    def _on_survey(self, event: Event) -> None:
        fields = event.fields
        self._add("surveys", "", 1.0, event.time_ms)
        if fields["score"] >= SATISFIED_SHARE * fields["scale_max"]:
            self._add("surveys_satisfied", "", 1.0, event.time_ms)

    def _on_complaint(self, event: Event) -> None:
        self._add("complaints", "", 1.0, event.time_ms)

    def _on_audit(self, event: Event) -> None:
        fields = event.fields
        prefix = "entity_audits" if fields["by_entity"] else "audits"
        self._add(prefix, "", 1.0, event.time_ms)
        if fields["critical_user_ok"]:
            self._add(f"{prefix}_user_ok", "", 1.0, event.time_ms)
        if fields["critical_business_ok"]:
            self._add(f"{prefix}_business_ok", "", 1.0, event.time_ms)

    def _on_resolved(self, event: Event) -> None:
        self._add("resolutions", "", 1.0, event.time_ms)
        if event.fields["first_contact"]:
            self._add("resolutions_first_contact", "", 1.0, event.time_ms)

    def _on_campaign(self, event: Event) -> None:
        self._add(
            "campaign_messages", "", float(event.fields["messages"]), event.time_ms
        )
        self._add("campaign_errors", "", float(event.fields["errors"]), event.time_ms)

    def _on_staff(self, event: Event) -> None:
        name = "staff_left" if event.fields["change"] == "left" else "staff_hired"
        self._add(name, event.fields["group"], 1.0, event.time_ms)

    def _on_evaluation(self, event: Event) -> None:
        kind = "knowledge" if event.kind == "knowledge_evaluated" else "supervisor"
        self._add(f"{kind}_evaluations", "", 1.0, event.time_ms)
        self._add(f"{kind}_score_sum", "", float(event.fields["score"]), event.time_ms)

    def _on_availability(self, event: Event) -> None:
        fields = event.fields
        self._add(
            "service_available_seconds",
            "",
            float(fields["available_seconds"]),
            event.time_ms,
        )
        self._add(
            "service_period_seconds", "", float(fields["period_seconds"]), event.time_ms
        )

    def _on_provisioned(self, event: Event) -> None:
        self._add("provisionings", "", 1.0, event.time_ms)
        self._add(
            "provisioning_days_sum", "", float(event.fields["days"]), event.time_ms
        )

    # ------------------------------------------------------------------- read

    def window_counts(self, window: str, now_ms: int) -> Counts:
        """Every count of ``window`` ending at ``now_ms``.

        Includes the time of each agent's state in progress and the contacts
        now waiting past their threshold (``waiting_missed``).
        """
        start = self.local.window_start_ms(window, now_ms)
        counts: Counts = {}
        if window in ("today", "month"):
            first, last = self.local.day(start), self.local.day(now_ms)
            for day in range(first, last + 1):
                _merge(counts, self.days.get(day))
        else:
            for minute in range(start // MINUTE_MS, now_ms // MINUTE_MS + 1):
                _merge(counts, self.minutes.get(minute))

        for agent in self.agents.values():
            begin = max(agent.since_ms, start)
            if begin < now_ms:
                for name in agent_time_names(agent.state, agent.scheduled):
                    key = (name, agent.group)
                    counts[key] = counts.get(key, 0.0) + (now_ms - begin)
        for channel, enqueued in self.waiting_contacts.values():
            if enqueued >= start and now_ms - enqueued > self.thresholds_ms[channel]:
                key = ("waiting_missed", channel)
                counts[key] = counts.get(key, 0.0) + 1.0
        return _units(counts)

    def totals_at(self, now_ms: int) -> Counts:
        """Totals since creation, with agents' time in their current state."""
        counts = dict(self.totals)
        for agent in self.agents.values():
            if agent.since_ms < now_ms:
                for name in agent_time_names(agent.state, agent.scheduled):
                    key = (name, agent.group)
                    counts[key] = counts.get(key, 0.0) + (now_ms - agent.since_ms)
        return _units(counts)

    def waiting(self, now_ms: int) -> dict[str, tuple[int, float, int]]:
        """Per channel: contacts waiting, oldest wait (seconds), past threshold.

        The third figure counts contacts that have already waited longer than
        the channel's service-level threshold.
        """
        out: dict[str, tuple[int, float, int]] = {}
        for channel, enqueued in self.waiting_contacts.values():
            count, oldest, missed = out.get(channel, (0, 0.0, 0))
            age = max(0, now_ms - enqueued)
            out[channel] = (
                count + 1,
                max(oldest, age / 1000),
                missed + (age > self.thresholds_ms[channel]),
            )
        return out

    def agents_by_state(self) -> dict[tuple[str, str], int]:
        """Agents per (group, state) now."""
        out: dict[tuple[str, str], int] = {}
        for agent in self.agents.values():
            key = (agent.group, agent.state)
            out[key] = out.get(key, 0) + 1
        return out

    def snapshot(self) -> bytes:
        """The whole state as bytes (for undo, publication and checkpoints)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def restore(data: bytes) -> State:
        """A state from :meth:`snapshot` bytes this process wrote itself."""
        state = pickle.loads(data)
        if not isinstance(state, State):
            raise ValueError("checkpoint does not hold an aggregator state")
        return state


def agent_time_names(state: str, scheduled: str) -> tuple[str, ...]:
    """Which agent-time counts (milliseconds) a period in ``state`` adds to.

    Time in a state counts as ``agent_<state>_ms`` for logged-in states;
    scheduled time (anything but a scheduled ``offline``) as
    ``agent_scheduled_ms``, and as ``agent_adherent_ms`` too when the state
    matches the schedule (working states for a scheduled ``available``,
    ``break`` for a scheduled break).
    """
    names: list[str] = []
    if state != "offline":
        names.append(f"agent_{state}_ms")
    if scheduled != "offline":
        names.append("agent_scheduled_ms")
        adherent = (
            state in WORKING_STATES if scheduled == "available" else state == scheduled
        )
        if adherent:
            names.append("agent_adherent_ms")
    return tuple(names)


def _units(counts: Counts) -> Counts:
    """Millionths back to their unit (agent milliseconds stay milliseconds)."""
    for key, value in counts.items():
        if key[0] in MICRO_SUMS:
            counts[key] = value / MICRO
    return counts


def _merge(into: Counts, part: Counts | None) -> None:
    if part:
        for key, value in part.items():
            into[key] = into.get(key, 0.0) + value


_HANDLERS: dict[str, Any] = {
    "arrived": State._on_arrived,
    "ivr_self_served": State._on_ivr_self_served,
    "queued": State._on_queued,
    "callback_requested": State._on_callback_requested,
    "answered": State._on_answered,
    "abandoned": State._on_abandoned,
    "callback_attempted": State._on_attempt,
    "outbound_attempted": State._on_attempt,
    "ended": State._on_ended,
    "transferred": State._on_transferred,
    "agent_state": State._on_agent_state,
    "survey_answered": State._on_survey,
    "complaint_filed": State._on_complaint,
    "quality_audited": State._on_audit,
    "contact_resolved": State._on_resolved,
    "campaign_sent": State._on_campaign,
    "staff_changed": State._on_staff,
    "knowledge_evaluated": State._on_evaluation,
    "supervisor_evaluated": State._on_evaluation,
    "service_availability": State._on_availability,
    "resource_provisioned": State._on_provisioned,
}

__all__ = ["WINDOWS", "Counts", "Key", "State", "agent_time_names", "wait_bounds"]
