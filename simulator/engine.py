"""The SimPy core: contacts queue for agents with skills, shifts and breaks.

The engine runs on a SimPy ``Environment`` but drives it with event callbacks
rather than one generator process per contact: a contact costs one timeout to
arrive, one for its patience (only if it has to wait) and one for its service.
Idle agents, waiting contacts and chat sessions are plain containers, so
matching a contact to an agent never walks the SimPy queue.

What the engine knows comes in compiled plans (:class:`ChannelPlan`,
:class:`AgentPlan`); what it produces are :class:`Outcome` records, per-interval
agent state times and, when asked, contract events. Nothing here logs.

Times are seconds from local midnight of the simulated day.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from simulator.distributions import Sampler

# Outcome codes of a contact that reached a queue.
ANSWERED = 0
ABANDONED = 1
NOT_REACHED = 2
EXPIRED = 3
OUTCOME_NAMES = ("answered", "abandoned", "not_reached", "expired")

# Agent states, in the order of the per-interval state-time arrays.
OFFLINE, AVAILABLE, BUSY, BREAK = 0, 1, 2, 3
STATE_NAMES = ("offline", "available", "busy", "break")


def _payload(event: simpy.Event) -> Any:
    """The value a callback's event was scheduled with.

    Read from ``Event._value``: the public ``value`` property re-checks that the
    event was triggered, which every event here is by the time its callbacks
    run, and costs a call per event on the hot path. simpy is pinned below 5,
    where the attribute has had this name since 3.0.
    """
    return event._value


EmitFn = Callable[[float, str, dict[str, Any]], None]
"""Receives ``(time_s, event_type, fields)``; see ``cctwin.events``."""


@dataclass
class ChannelPlan:
    """One channel's traffic for one day, compiled from config.

    ``enqueue_times`` are the times contacts reach the agent queue, sorted;
    ``arrival_times`` (same order) are when they entered the center (the IVR,
    for voice). ``kind`` is ``inbound``, ``chat``, ``callback`` or ``outbound``.
    """

    name: str
    queue: str
    kind: str
    enqueue_times: np.ndarray
    arrival_times: np.ndarray
    handle: Sampler
    patience: Sampler | None = None
    retrial_probability: float = 0.0
    retrial_delay: Sampler | None = None
    retrial_uniform: Sampler | None = None
    ivr_seconds: float = 0.0
    close_s: float = math.inf
    session_factors: tuple[float, ...] = (1.0,)
    max_delay_s: float = math.inf
    contact_probability: float = 1.0
    contact_uniform: Sampler | None = None
    attempt_s: float = 45.0
    talk_hold_wrap: tuple[float, float, float] = (1.0, 0.0, 0.0)


@dataclass
class AgentPlan:
    """One agent's day: group, skills (channel indices by priority), shift, breaks."""

    agent_id: str
    group: int
    skills: tuple[int, ...]
    start_s: float
    end_s: float
    breaks: tuple[tuple[float, float], ...] = ()


@dataclass
class AgentDay:
    """What an agent actually did, for adherence: login, logout and breaks taken."""

    login_s: float = math.nan
    logout_s: float = math.nan
    breaks: list[tuple[float, float]] = field(default_factory=list)


class _Call:
    """A callback waiting on SimPy's event queue, with the value it gets."""

    __slots__ = ("_ok", "_value", "callbacks")

    def __init__(self, callback: Callable[[Any], None], value: Any) -> None:
        self.callbacks = [callback]
        self._value = value
        self._ok = True


class _Contact:
    __slots__ = ("arrived", "attempt", "channel", "enqueued", "id", "waiting")

    def __init__(self, cid: int, channel: int, arrived: float, enqueued: float) -> None:
        self.id = cid
        self.channel = channel
        self.arrived = arrived
        self.enqueued = enqueued
        self.waiting = False
        self.attempt = 1


class _Agent:
    __slots__ = (
        "break_pending",
        "group",
        "id",
        "index",
        "leaving",
        "max_sessions",
        "on_shift",
        "plan",
        "sessions",
        "since",
        "state",
        "wrap_from",
    )

    def __init__(self, index: int, plan: AgentPlan) -> None:
        self.index = index
        self.id = plan.agent_id
        self.group = plan.group
        self.plan = plan
        self.state = OFFLINE
        self.since = 0.0
        self.sessions = 0
        self.max_sessions = 1
        self.on_shift = False
        self.leaving = False
        self.break_pending = 0.0
        # When the contract's wrap_up state of the current contact begins
        # (events only): the engine itself counts wrap-up as busy.
        self.wrap_from = math.inf


class Engine:
    """A day of the center on a SimPy environment.

    Build it, call :meth:`run`, then read ``outcomes`` (per channel, a list of
    ``(enqueued_s, wait_s, outcome, handle_s)``), ``state_time`` (per group,
    per state, seconds per interval) and ``agent_days``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        channels: list[ChannelPlan],
        agents: list[AgentPlan],
        group_names: list[str],
        interval_s: float,
        emit: EmitFn | None = None,
    ) -> None:
        n_groups = len(group_names)
        self.env = env
        self.group_names = group_names
        self.channels = channels
        self.interval_s = interval_s
        self.emit = emit
        self.agents = [_Agent(i, plan) for i, plan in enumerate(agents)]
        for agent in self.agents:
            agent.max_sessions = self._max_sessions(agent)
        self.agent_days = [AgentDay() for _ in agents]

        self.queues: list[deque[_Contact]] = [deque() for _ in channels]
        self.waiting = [0] * len(channels)
        self.outcomes: list[list[tuple[float, float, int, float]]] = [
            [] for _ in channels
        ]
        self.not_attempted = [0] * len(channels)
        self.retrials = [0] * len(channels)
        n_intervals = math.ceil(86_400 / interval_s) + 1
        self.state_time = [
            [[0.0] * n_intervals for _ in STATE_NAMES] for _ in range(n_groups)
        ]

        # Idle agents per group, longest idle first; chat agents with a free
        # session slot per group; groups able to serve each channel.
        self.idle: list[deque[_Agent]] = [deque() for _ in range(n_groups)]
        self.partial: list[list[_Agent]] = [[] for _ in range(n_groups)]
        self.groups_for: list[list[int]] = [[] for _ in channels]
        seen: set[tuple[int, int]] = set()
        for agent in self.agents:
            for ch in agent.plan.skills:
                if (ch, agent.group) not in seen:
                    seen.add((ch, agent.group))
                    self.groups_for[ch].append(agent.group)
        self._next_id = 0
        # Python floats: indexing a numpy array per contact costs more than
        # the whole list conversion.
        self._arrivals = [
            (channel.enqueue_times.tolist(), channel.arrival_times.tolist())
            for channel in channels
        ]

    # ------------------------------------------------------------------ set-up

    def run(self, until: float | None = None) -> None:
        """Schedule the day's arrivals and shifts, then run the environment."""
        env = self.env
        for agent in self.agents:
            plan = agent.plan
            self._at(plan.start_s, self._on_login, agent)
            self._at(plan.end_s, self._on_shift_end, agent)
            for start, minutes in plan.breaks:
                self._at(start, self._on_break_due, (agent, minutes))
            if self.emit is not None:
                # The schedule changes at these instants whatever the agent is
                # doing; an event then lets a consumer split scheduled time
                # there (adherence) without knowing the roster.
                edges = [plan.end_s]
                for start, seconds in plan.breaks:
                    edges += [start, start + seconds]
                for edge in edges:
                    self._at(edge, self._on_schedule_edge, agent)
        for index, channel in enumerate(self.channels):
            if len(channel.enqueue_times):
                self._at(float(channel.enqueue_times[0]), self._on_arrival, (index, 0))
        self._drain(math.inf if until is None else until)
        self._finish(env.now)

    def _drain(self, until: float) -> None:
        """Process SimPy's queue up to ``until``, as ``env.run(until)`` would.

        This is ``Environment.step`` inlined: its call, its StopSimulation
        handling and its failure check cost a tenth of a forecast, and none
        applies to the callbacks queued here. A failed foreign event still
        stops the run, through SimPy's own ``step``.
        """
        env = self.env
        queue: list[Any] = env._queue
        while queue and queue[0][0] < until:
            if not queue[0][3]._ok:
                env.step()  # raises the failure the SimPy way
                continue
            env._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
        if until != math.inf and env._now < until:
            env._now = until

    def _at(self, time_s: float, callback: Callable[[Any], None], value: Any) -> None:
        """Run ``callback`` at ``time_s`` (never before now) with ``value``."""
        env = self.env
        now = env._now
        # Pushed on SimPy's own queue, in SimPy's (time, priority, id, event)
        # form, so env.step() and env.run() process it like any Timeout; a
        # _Call is the least an event there must carry. It skips the Timeout
        # constructor and env.schedule, two calls on the path every contact
        # takes two or three times. simpy is pinned below 5 for these names.
        queue: list[Any] = env._queue
        heappush(
            queue,
            (
                time_s if time_s > now else now,
                NORMAL,
                next(env._eid),
                _Call(callback, value),
            ),
        )

    def _finish(self, now: float) -> None:
        """Close the books: contacts still queued and agents still logged in."""
        for index, queue in enumerate(self.queues):
            kind = self.channels[index].kind
            for contact in queue:
                if not contact.waiting:
                    continue
                contact.waiting = False
                if kind == "outbound":
                    self.not_attempted[index] += 1
                elif kind == "callback":
                    self._record_expired(index, contact)
                else:
                    self._record(index, contact, now - contact.enqueued, ABANDONED, 0.0)
            queue.clear()
            self.waiting[index] = 0
        for agent in self.agents:
            if agent.state != OFFLINE:
                self._set_state(agent, OFFLINE, now)
                self.agent_days[agent.index].logout_s = now

    # ---------------------------------------------------------------- arrivals

    def _on_arrival(self, event: simpy.Event) -> None:
        index, position = event._value
        times, arrived = self._arrivals[index]
        now = self.env._now

        contact = _Contact(self._next_id, index, arrived[position], now)
        self._next_id += 1
        if position + 1 < len(times):
            self._at(times[position + 1], self._on_arrival, (index, position + 1))

        if self.emit is not None:
            self._emit_arrival(contact)
        self._offer(contact)

    def _on_retrial(self, event: simpy.Event) -> None:
        contact: _Contact = _payload(event)
        contact.enqueued = self.env.now
        self.retrials[contact.channel] += 1
        if self.emit is not None:
            self._emit_arrival(contact)
        self._offer(contact)

    def _offer(self, contact: _Contact) -> None:
        """A contact reaches its queue: serve it now or make it wait."""
        index = contact.channel
        channel = self.channels[index]
        agent = self._free_agent_for(index, channel.kind == "chat")
        if agent is not None:
            self._serve(agent, contact)
            return

        contact.waiting = True
        self.queues[index].append(contact)
        self.waiting[index] += 1
        if channel.patience is not None:
            patience = channel.patience()
            if patience != math.inf:
                self._at(self.env.now + patience, self._on_patience, contact)

    def _free_agent_for(self, index: int, chat: bool) -> _Agent | None:
        for group in self.groups_for[index]:
            idle = self.idle[group]
            if idle:
                return idle.popleft()
        if chat:
            best: _Agent | None = None
            for group in self.groups_for[index]:
                for agent in self.partial[group]:
                    if best is None or agent.sessions < best.sessions:
                        best = agent
            return best
        return None

    def _on_patience(self, event: simpy.Event) -> None:
        contact: _Contact = _payload(event)
        if not contact.waiting:
            return
        contact.waiting = False
        index = contact.channel
        self.waiting[index] -= 1
        now = self.env.now
        self._record(index, contact, now - contact.enqueued, ABANDONED, 0.0)

        channel = self.channels[index]
        if (
            channel.retrial_probability > 0.0
            and channel.retrial_uniform is not None
            and channel.retrial_delay is not None
            and channel.retrial_uniform() < channel.retrial_probability
        ):
            again = now + channel.retrial_delay() + channel.ivr_seconds
            # A citizen who would call back after closing is lost, not queued.
            if again < channel.close_s:
                retry = _Contact(contact.id, index, again - channel.ivr_seconds, again)
                retry.attempt = contact.attempt + 1
                self._at(again, self._on_retrial, retry)

    # ----------------------------------------------------------------- service

    def _serve(self, agent: _Agent, contact: _Contact) -> None:
        now = self.env.now
        index = contact.channel
        channel = self.channels[index]
        wait = now - contact.enqueued

        if channel.kind == "callback" and wait > channel.max_delay_s:
            # Found too late: the request expired at its deadline.
            self._record_expired(index, contact)
            self._after_work(agent)
            return

        held = agent.sessions
        reached = True
        if channel.kind in ("callback", "outbound"):
            assert channel.contact_uniform is not None
            reached = channel.contact_uniform() < channel.contact_probability
        if reached:
            handle = channel.handle()
            if channel.kind == "chat":
                handle *= channel.session_factors[
                    min(held, len(channel.session_factors) - 1)
                ]
            outcome = ANSWERED
        else:
            handle = channel.attempt_s
            outcome = NOT_REACHED

        agent.sessions = held + 1
        if held == 0:
            if self.emit is not None and agent.state == BUSY:
                # Straight from one contact to the next: the events said
                # wrap_up for the last one, so say busy again.
                self._emit_state(agent, BUSY, now)
                agent.wrap_from = math.inf
            self._set_state(agent, BUSY, now)
        self._update_partial(agent)
        self._record(index, contact, wait, outcome, handle if reached else 0.0)
        if self.emit is not None:
            self._emit_start(agent, contact, wait, outcome, handle)
        self._at(now + handle, self._on_end, (agent, contact, handle, outcome, wait))

    def _on_end(self, event: simpy.Event) -> None:
        agent, contact, handle, outcome, wait = event._value
        agent.sessions -= 1
        if self.emit is not None and outcome == ANSWERED:
            self._emit_end(agent, contact, handle, wait)
        self._after_work(agent)

    def _after_work(self, agent: _Agent) -> None:
        """An agent finished something: take more work, rest or leave."""
        now = self.env.now
        if agent.sessions > 0:
            # Still holding chats: only another chat can be taken.
            if not agent.leaving and agent.break_pending == 0.0:
                for index in agent.plan.skills:
                    if self.channels[index].kind == "chat" and self.waiting[index]:
                        contact = self._pop(index)
                        if contact is not None:
                            self._serve(agent, contact)
                            return
            self._update_partial(agent)
            return

        if agent.leaving:
            self._logout(agent, now)
            return
        if agent.break_pending > 0.0:
            minutes = agent.break_pending
            agent.break_pending = 0.0
            self._start_break(agent, minutes, now)
            return
        for index in agent.plan.skills:
            if self.waiting[index]:
                contact = self._pop(index)
                if contact is not None:
                    self._serve(agent, contact)
                    return
        self._set_state(agent, AVAILABLE, now)
        self._update_partial(agent)
        self.idle[agent.group].append(agent)

    def _pop(self, index: int) -> _Contact | None:
        queue = self.queues[index]
        while queue:
            contact = queue.popleft()
            if contact.waiting:
                contact.waiting = False
                self.waiting[index] -= 1
                return contact
        return None

    def _update_partial(self, agent: _Agent) -> None:
        """Keep the list of chat agents with a free session slot current."""
        max_sessions = agent.max_sessions
        if max_sessions == 1:
            return  # never serves chat: never in a partial list
        partial = self.partial[agent.group]
        can_take = 0 < agent.sessions < max_sessions and not (
            agent.leaving or agent.break_pending
        )
        inside = agent in partial
        if can_take and not inside:
            partial.append(agent)
        elif inside and not can_take:
            partial.remove(agent)

    def _max_sessions(self, agent: _Agent) -> int:
        best = 1
        for index in agent.plan.skills:
            channel = self.channels[index]
            if channel.kind == "chat":
                best = max(best, len(channel.session_factors))
        return best

    # ------------------------------------------------------- shifts and breaks

    def _on_login(self, event: simpy.Event) -> None:
        agent: _Agent = _payload(event)
        now = self.env.now
        agent.on_shift = True
        self.agent_days[agent.index].login_s = now
        self._after_work(agent)

    def _on_shift_end(self, event: simpy.Event) -> None:
        agent: _Agent = _payload(event)
        agent.leaving = True
        agent.break_pending = 0.0
        if agent.state == AVAILABLE:
            self.idle[agent.group].remove(agent)
            self._logout(agent, self.env.now)
        elif agent.state == BUSY:
            self._update_partial(agent)
        # On a break: _on_break_end logs the agent out.

    def _logout(self, agent: _Agent, now: float) -> None:
        agent.on_shift = False
        self._set_state(agent, OFFLINE, now)
        self.agent_days[agent.index].logout_s = now

    def _on_break_due(self, event: simpy.Event) -> None:
        agent, minutes = _payload(event)
        if agent.leaving or not agent.on_shift:
            return
        if agent.state == AVAILABLE:
            self.idle[agent.group].remove(agent)
            self._start_break(agent, minutes, self.env.now)
        else:
            # Busy: the break starts when the current work ends.
            agent.break_pending = minutes
            self._update_partial(agent)

    def _start_break(self, agent: _Agent, seconds: float, now: float) -> None:
        self._set_state(agent, BREAK, now)
        self.agent_days[agent.index].breaks.append((now, now + seconds))
        self._at(now + seconds, self._on_break_end, agent)

    def _on_schedule_edge(self, event: simpy.Event) -> None:
        agent: _Agent = _payload(event)
        if agent.state == OFFLINE:
            return
        now = self.env._now
        state = "wrap_up" if agent.state == BUSY and now >= agent.wrap_from else None
        assert self.emit is not None
        self.emit(
            now,
            "agent_state",
            self._agent_fields(agent, state or STATE_NAMES[agent.state], now),
        )

    def _on_break_end(self, event: simpy.Event) -> None:
        agent: _Agent = _payload(event)
        if agent.leaving:
            self._logout(agent, self.env.now)
            return
        self._after_work(agent)

    # -------------------------------------------------------------- accounting

    def _set_state(self, agent: _Agent, state: int, now: float) -> None:
        """Move an agent to ``state``, adding the time spent to its intervals."""
        if state == agent.state:
            return
        if agent.state != OFFLINE:
            row = self.state_time[agent.group][agent.state]
            start = agent.since
            step = self.interval_s
            slot = int(start // step)
            edge = (slot + 1) * step
            # Most spells end in the interval they began in: one addition.
            while now > edge:
                row[slot] += edge - start
                start = edge
                slot += 1
                edge += step
            row[slot] += now - start
        if self.emit is not None:
            self._emit_state(agent, state, now)
            agent.wrap_from = math.inf
        agent.state = state
        agent.since = now

    def _record(
        self, index: int, contact: _Contact, wait: float, outcome: int, handle: float
    ) -> None:
        self.outcomes[index].append((contact.enqueued, wait, outcome, handle))
        if self.emit is not None and outcome == ABANDONED:
            self._emit_abandon(contact, wait)

    def _record_expired(self, index: int, contact: _Contact) -> None:
        delay = self.channels[index].max_delay_s
        self.outcomes[index].append((contact.enqueued, delay, EXPIRED, 0.0))
        if self.emit is not None:
            self.emit(
                contact.enqueued + delay,
                "callback_attempted",
                self._contact_fields(contact, wait=delay, outcome="expired"),
            )

    # ------------------------------------------------------------------ events

    def _contact_fields(self, contact: _Contact, **extra: Any) -> dict[str, Any]:
        channel = self.channels[contact.channel]
        fields = {
            "interaction": contact.id,
            "attempt": contact.attempt,
            "channel": channel.name,
            "queue": channel.queue,
            "enqueued": contact.enqueued,
        }
        fields.update(extra)
        return fields

    def _emit_arrival(self, contact: _Contact) -> None:
        assert self.emit is not None
        channel = self.channels[contact.channel]
        if channel.kind in ("callback",):
            self.emit(
                contact.enqueued, "callback_requested", self._contact_fields(contact)
            )
            return
        if channel.kind == "outbound":
            return
        self.emit(contact.arrived, "arrived", self._contact_fields(contact))
        self.emit(contact.enqueued, "queued", self._contact_fields(contact))

    def _emit_start(
        self, agent: _Agent, contact: _Contact, wait: float, outcome: int, handle: float
    ) -> None:
        assert self.emit is not None
        channel = self.channels[contact.channel]
        now = self.env.now
        who = {"agent": agent.id, "wait": wait}
        if channel.kind == "callback":
            result = "reached" if outcome == ANSWERED else "not_reached"
            self.emit(
                now,
                "callback_attempted",
                self._contact_fields(contact, outcome=result, **who),
            )
        elif channel.kind == "outbound":
            result = "reached" if outcome == ANSWERED else "not_reached"
            self.emit(
                now,
                "outbound_attempted",
                self._contact_fields(contact, outcome=result, **who),
            )
        else:
            self.emit(now, "answered", self._contact_fields(contact, **who))
        wrap_share = channel.talk_hold_wrap[2]
        if outcome == ANSWERED and wrap_share > 0.0 and agent.sessions == 1:
            wrap_at = now + handle * (1.0 - wrap_share)
            agent.wrap_from = wrap_at
            self.emit(
                wrap_at, "agent_state", self._agent_fields(agent, "wrap_up", wrap_at)
            )

    def _emit_end(
        self, agent: _Agent, contact: _Contact, handle: float, wait: float
    ) -> None:
        assert self.emit is not None
        channel = self.channels[contact.channel]
        talk, hold, wrap = (share * handle for share in channel.talk_hold_wrap)
        now = self.env.now
        self.emit(
            now,
            "ended",
            self._contact_fields(
                contact,
                agent=agent.id,
                wait=wait,
                talk=talk,
                hold=hold,
                wrap_up=wrap,
            ),
        )

    def _emit_abandon(self, contact: _Contact, wait: float) -> None:
        assert self.emit is not None
        self.emit(
            contact.enqueued + wait,
            "abandoned",
            self._contact_fields(contact, wait=wait),
        )

    def _emit_state(self, agent: _Agent, state: int, now: float) -> None:
        assert self.emit is not None
        self.emit(
            now, "agent_state", self._agent_fields(agent, STATE_NAMES[state], now)
        )

    def _agent_fields(self, agent: _Agent, state: str, now: float) -> dict[str, Any]:
        return {
            "agent": agent.id,
            "group": self.group_names[agent.group],
            "state": state,
            "scheduled": scheduled_state(agent.plan, now),
        }


def scheduled_state(plan: AgentPlan, time_s: float) -> str:
    """What the schedule says an agent should be doing at ``time_s``."""
    if not plan.start_s <= time_s < plan.end_s:
        return "offline"
    for start, seconds in plan.breaks:
        if start <= time_s < start + seconds:
            return "break"
    return "available"
