"""The schema of a center's configuration: channels, agents, agreements, tariffs.

Every model forbids unknown keys, so a typo fails at load time instead of being
silently ignored. Times are in seconds unless a field name says otherwise; ratios
are 0-1.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys in ``datetime.weekday()`` order."""

CHANNEL_NAMES: tuple[str, ...] = (
    "voice",
    "chat",
    "video",
    "virtual_call",
    "web_callback",
    "virtual_hold",
    "outbound",
)
"""The channel names the forecast knows; a config may use any subset of them."""

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveSeconds = Annotated[float, Field(gt=0.0)]
NonNegativeSeconds = Annotated[float, Field(ge=0.0)]

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def clock_minutes(text: str) -> int:
    """Return minutes after midnight of an ``HH:MM`` string.

    Raises:
        ValueError: if ``text`` is not a 24-hour ``HH:MM`` clock time.
    """
    match = _CLOCK.match(text)
    if match is None:
        raise ValueError(f"expected a 24-hour time 'HH:MM', got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


class OpeningHours(Strict):
    """One day's opening and closing clock time (``HH:MM``, close after open)."""

    open: str
    close: str

    @model_validator(mode="after")
    def _close_after_open(self) -> OpeningHours:
        if clock_minutes(self.close) <= clock_minutes(self.open):
            raise ValueError(
                f"close {self.close!r} must be after open {self.open!r} on the same day"
            )
        return self

    @property
    def open_minute(self) -> int:
        """Minutes after midnight when the center opens."""
        return clock_minutes(self.open)

    @property
    def close_minute(self) -> int:
        """Minutes after midnight when the center closes."""
        return clock_minutes(self.close)


class Center(Strict):
    """Identity, calendar and time base of the center."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: str
    timezone: str
    interval_minutes: Literal[15, 30]
    opening_hours: dict[Weekday, OpeningHours]
    holidays: list[dt.date] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown IANA time zone {value!r}, e.g. 'America/Bogota'"
            ) from error
        return value

    @model_validator(mode="after")
    def _hours_on_interval_grid(self) -> Center:
        for day, hours in self.opening_hours.items():
            for label, minute in (
                ("open", hours.open_minute),
                ("close", hours.close_minute),
            ):
                if minute % self.interval_minutes:
                    raise ValueError(
                        f"opening_hours.{day}.{label} must fall on the "
                        f"{self.interval_minutes}-minute interval grid"
                    )
        if not self.opening_hours:
            raise ValueError("opening_hours needs at least one open weekday")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The center's time zone."""
        return ZoneInfo(self.timezone)


class ArrivalProfile(Strict):
    """How a monthly volume spreads over days and intervals.

    ``weekday_share`` weighs the open weekdays against each other (any positive
    scale); ``intraday`` weighs the intervals of a day, keyed by their ``HH:MM``
    start, and must name every interval of every open day. ``day_dispersion_cv``
    is the coefficient of variation of a gamma multiplier drawn once per day and
    channel (0 = plain Poisson days).
    """

    weekday_share: dict[Weekday, Annotated[float, Field(ge=0.0)]]
    intraday: dict[str, Annotated[float, Field(ge=0.0)]]
    day_dispersion_cv: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0

    @field_validator("intraday")
    @classmethod
    def _clock_keys(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            clock_minutes(key)
        if not any(weight > 0 for weight in value.values()):
            raise ValueError("intraday needs at least one positive weight")
        return value


class HandleTime(Strict):
    """Handle time (TMO: talk + hold + wrap-up) of one contact, in seconds.

    ``mean_seconds`` is the TMO; ``cv`` its coefficient of variation. The
    ``hold_share`` and ``wrap_up_share`` split it for the ``ended`` event.
    """

    distribution: Literal["lognormal", "exponential", "gamma", "deterministic"] = (
        "lognormal"
    )
    mean_seconds: PositiveSeconds
    cv: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    hold_share: Ratio = 0.0
    wrap_up_share: Ratio = 0.0

    @model_validator(mode="after")
    def _shares_fit(self) -> HandleTime:
        if self.hold_share + self.wrap_up_share >= 1.0:
            raise ValueError(
                "hold_share + wrap_up_share must leave room for talk (< 1)"
            )
        if self.distribution == "exponential" and not math.isclose(self.cv, 1.0):
            raise ValueError("an exponential handle time has cv 1; set cv: 1.0")
        if self.distribution == "deterministic" and self.cv != 0.0:
            raise ValueError("a deterministic handle time has cv 0; set cv: 0.0")
        return self


class Patience(Strict):
    """How long a waiting contact stays before abandoning, in seconds."""

    distribution: Literal["exponential", "lognormal", "deterministic", "none"] = (
        "exponential"
    )
    mean_seconds: PositiveSeconds = 600.0
    cv: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0


class Retrial(Strict):
    """An abandoner calls back with ``probability`` after ``delay_seconds`` (mean)."""

    probability: Ratio = 0.0
    delay_seconds: PositiveSeconds = 600.0


class Ivr(Strict):
    """The IVR in front of a voice queue: who self-serves and how long it takes."""

    self_service_share: Ratio
    time_seconds: NonNegativeSeconds = 60.0


class ServiceLevel(Strict):
    """Service-level definition of a channel (see DESIGN.md, metric definitions).

    ``abandons`` chooses how abandoned contacts count: ``negative`` (against),
    ``ignored`` (removed from the denominator when they abandon within the
    threshold) or ``positive`` (within-threshold abandons count as met). Contacts
    abandoning before ``short_abandon_seconds`` are removed from every
    denominator when that bound is positive. The threshold is inclusive.
    """

    threshold_seconds: PositiveSeconds
    abandons: Literal["negative", "ignored", "positive"] = "negative"
    short_abandon_seconds: NonNegativeSeconds = 0.0


class Concurrency(Strict):
    """Chat sessions an agent can hold and how handle time stretches with them.

    ``handle_time_factor[i]`` multiplies the mean handle time of a chat that
    starts while the agent already holds ``i`` other chats.
    """

    max_sessions: Annotated[int, Field(ge=1, le=10)] = 1
    handle_time_factor: list[Annotated[float, Field(gt=0.0)]] = [1.0]

    @model_validator(mode="after")
    def _one_factor_per_session(self) -> Concurrency:
        if len(self.handle_time_factor) != self.max_sessions:
            raise ValueError(
                f"handle_time_factor needs one factor per session "
                f"({self.max_sessions}), got {len(self.handle_time_factor)}"
            )
        return self


class Callback(Strict):
    """A request an agent calls back later (web callback, virtual hold).

    The call must be placed within ``max_delay_seconds`` of the request, or the
    request expires; a placed call reaches the citizen with
    ``contact_probability``; an unreached attempt takes ``attempt_seconds``.
    """

    max_delay_seconds: PositiveSeconds
    contact_probability: Ratio
    attempt_seconds: PositiveSeconds = 45.0


class Outbound(Strict):
    """A campaign list worked by agents; each attempt reaches someone or not."""

    contact_probability: Ratio
    attempt_seconds: PositiveSeconds = 45.0


ChannelKind = Literal["inbound", "chat", "callback", "outbound"]


class Channel(Strict):
    """One channel of the center and its traffic model.

    ``kind`` picks the queueing behaviour: ``inbound`` (voice-like queue with
    patience), ``chat`` (concurrent sessions), ``callback`` (requests called back
    later) or ``outbound`` (a campaign list). ``monthly_volume`` counts entries
    per month (before the IVR for voice).
    """

    kind: ChannelKind
    queue: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    monthly_volume: Annotated[float, Field(ge=0.0)]
    handle_time: HandleTime
    service_level: ServiceLevel | None = None
    patience: Patience | None = None
    retrial: Retrial | None = None
    ivr: Ivr | None = None
    concurrency: Concurrency | None = None
    callback: Callback | None = None
    outbound: Outbound | None = None
    arrival: ArrivalProfile | None = None

    @model_validator(mode="after")
    def _sections_match_kind(self) -> Channel:
        wanted = {
            "inbound": {"patience"},
            "chat": {"patience", "concurrency"},
            "callback": {"callback"},
            "outbound": {"outbound"},
        }[self.kind]
        allowed = (
            wanted
            | {
                "inbound": {"retrial", "ivr"},
                "chat": set(),
                "callback": set(),
                "outbound": set(),
            }[self.kind]
        )
        sections = {"patience", "retrial", "ivr", "concurrency", "callback", "outbound"}
        for name in sorted(sections):
            present = getattr(self, name) is not None
            if name in wanted and not present:
                raise ValueError(f"a channel of kind {self.kind!r} needs {name!r}")
            if present and name not in allowed:
                raise ValueError(
                    f"{name!r} does not apply to kind {self.kind!r} "
                    f"(allowed: {sorted(allowed)})"
                )
        if self.kind in ("inbound", "chat") and self.service_level is None:
            raise ValueError(f"a channel of kind {self.kind!r} needs 'service_level'")
        return self

    @property
    def direction(self) -> Literal["inbound", "outbound"]:
        """Inbound for queues citizens join, outbound for calls agents place."""
        return "inbound" if self.kind in ("inbound", "chat") else "outbound"


class Shift(Strict):
    """``agents`` agents work ``start``-``end`` on ``days`` (center's local time)."""

    start: str
    end: str
    # Strict: a quoted "12" in the YAML is a typo to report, not a number.
    agents: Annotated[int, Field(ge=0, strict=True)]
    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat"]

    @model_validator(mode="after")
    def _end_after_start(self) -> Shift:
        if clock_minutes(self.end) <= clock_minutes(self.start):
            raise ValueError(f"end {self.end!r} must be after start {self.start!r}")
        return self


class Break(Strict):
    """A break ``minutes`` long, due ``after_minutes`` into each shift.

    ``stagger_minutes`` spreads the agents of one shift evenly over a window
    that long, as a planner would: agent k of n goes at ``after_minutes +
    k * stagger_minutes / n``. With 0 the whole shift leaves at once, which
    empties the floor for the length of the break.
    """

    after_minutes: Annotated[int, Field(gt=0)]
    minutes: Annotated[int, Field(gt=0)]
    stagger_minutes: Annotated[int, Field(ge=0)] = 0


class AgentGroup(Strict):
    """Agents with the same skills, served channels in priority order, and shifts.

    ``skills`` lists channel names, highest priority first: a free agent takes
    the oldest waiting contact of the first of them that has one.
    ``absenteeism`` is the chance a scheduled agent misses a whole day.
    """

    skills: list[str]
    shifts: list[Shift]
    breaks: list[Break] = []
    absenteeism: Ratio = 0.0
    direction: Literal["inbound", "outbound"] = "inbound"

    @field_validator("skills")
    @classmethod
    def _distinct_skills(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("skills needs at least one channel name")
        if len(set(value)) != len(value):
            raise ValueError(f"skills lists a channel twice: {value}")
        return value


AgreementMetric = Literal[
    "service_level",
    "asa_seconds",
    "handle_time_seconds",
    "answer_rate",
    "abandonment",
    "occupancy",
    "adherence",
    "availability",
    "provisioning_days",
    "complaint_rate",
    "satisfaction",
    "turnover",
    "critical_user_accuracy",
    "critical_business_accuracy",
    "critical_user_audit_gap",
    "knowledge_score",
    "first_contact_resolution",
    "campaign_error_rate",
    "supervisor_score",
]

FORECASTABLE_METRICS: frozenset[str] = frozenset(
    {
        "service_level",
        "asa_seconds",
        "handle_time_seconds",
        "answer_rate",
        "abandonment",
        "occupancy",
        "adherence",
    }
)
"""Agreement metrics the simulator forecasts; the rest come from other events."""


class Direction(StrEnum):
    """Whether an agreement is met at or above, or at or below, its target."""

    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Agreement(Strict):
    """One service agreement (ANS) of the contract.

    ``channels`` (or ``groups`` for occupancy and adherence) say what the metric
    pools over; pooling is by volume. ``threshold_seconds`` overrides the
    channel's service-level threshold for ``service_level`` agreements.
    """

    id: Annotated[int, Field(ge=1)]
    name: str
    metric: AgreementMetric
    target: float
    direction: Direction
    unit: Literal["ratio", "seconds", "days", "score"]
    channels: list[str] = []
    groups: list[str] = []
    threshold_seconds: PositiveSeconds | None = None
    level: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _unit_matches_metric(self) -> Agreement:
        if self.unit == "ratio" and not 0.0 <= self.target <= 1.0:
            raise ValueError(f"a ratio target must lie in [0, 1], got {self.target}")
        if self.metric in ("occupancy", "adherence") and self.channels:
            raise ValueError(f"{self.metric!r} pools over 'groups', not 'channels'")
        return self

    @property
    def forecastable(self) -> bool:
        """True when the simulator can forecast this agreement."""
        return self.metric in FORECASTABLE_METRICS

    def met_by(self, figure: float) -> bool:
        """Whether ``figure`` meets the target (the bound itself included)."""
        if self.direction == Direction.AT_LEAST:
            return figure >= self.target
        return figure <= self.target


class TariffItem(Strict):
    """One priced line of the contract (Tabla 7): unit price and monthly quantity."""

    code: str
    name: str
    unit_price: Annotated[float, Field(ge=0.0)]
    quantity: Annotated[float, Field(ge=0.0)] = 0.0
    per: Literal["month", "unit"] = "month"
    group: str | None = None


class Tariffs(Strict):
    """The contract's price table and tax."""

    currency: str = "COP"
    vat: Ratio = 0.0
    items: list[TariffItem] = []


class Producer(Strict):
    """How ``cctwin stream`` hands events to Kafka: durability and batching.

    ``acks: all`` with ``idempotence`` is what makes a broker restart safe: the
    broker drops a retried batch it already wrote, so no event is duplicated or
    reordered within its partition. ``linger_ms`` and ``batch_size_bytes`` trade
    a few milliseconds of latency for throughput. ``delivery_timeout_ms`` bounds
    how long an event may stay unacknowledged (broker down, leader moving)
    before the stream fails and says how many events were lost.
    """

    acks: Literal["all", "1", "0"] = "all"
    idempotence: bool = True
    linger_ms: Annotated[int, Field(ge=0, le=60_000)] = 20
    batch_size_bytes: Annotated[int, Field(ge=1_024, le=16_777_216)] = 131_072
    # Only the codecs the Python standard library provides; lz4, snappy and
    # zstd would need optional native packages the project does not depend on.
    compression: Literal["none", "gzip"] = "none"
    request_timeout_ms: Annotated[int, Field(ge=1_000)] = 30_000
    delivery_timeout_ms: Annotated[int, Field(ge=1_000)] = 120_000

    @model_validator(mode="after")
    def _consistent(self) -> Producer:
        if self.idempotence and self.acks != "all":
            raise ValueError(
                f"idempotence needs acks 'all', got acks {self.acks!r}; "
                "set acks: all or idempotence: false"
            )
        if self.delivery_timeout_ms < self.linger_ms + self.request_timeout_ms:
            raise ValueError(
                f"delivery_timeout_ms ({self.delivery_timeout_ms}) must be at least "
                f"linger_ms + request_timeout_ms "
                f"({self.linger_ms + self.request_timeout_ms})"
            )
        return self


class Kafka(Strict):
    """Where the live path's events travel: broker, topics and consumer group.

    Credentials never live here: SASL/SSL settings come from ``CCTWIN_KAFKA_*``
    environment variables (see ``cctwin.kafka_client``). ``--bootstrap`` and
    ``--topic`` flags override these values.
    """

    bootstrap: str = "127.0.0.1:9092"
    topic: str = "cctwin.events"
    dead_letter_topic: str = "cctwin.events.dead-letter"
    partitions: Annotated[int, Field(ge=1)] = 3
    consumer_group: str = "cctwin-aggregator"
    producer: Producer = Producer()

    @field_validator("bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return value

    @field_validator("topic", "dead_letter_topic", "consumer_group")
    @classmethod
    def _kafka_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", value):
            raise ValueError(
                "Kafka names use letters, digits, '.', '_' and '-' (1-249 "
                f"characters), got {value!r}"
            )
        return value


class CenterConfig(Strict):
    """A whole center: the root of a config file.

    ``assumptions`` maps dotted paths of fields the source data does not give to
    the reason for the value chosen; every path must exist in the file.
    """

    schema_version: Literal[1]
    center: Center
    arrival_profile: ArrivalProfile
    channels: dict[str, Channel]
    agent_groups: dict[str, AgentGroup]
    agreements: list[Agreement] = []
    tariffs: Tariffs = Tariffs()
    kafka: Kafka = Kafka()
    assumptions: dict[str, str] = {}

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, Channel]) -> dict[str, Channel]:
        for name in value:
            if name not in CHANNEL_NAMES:
                raise ValueError(
                    f"unknown channel {name!r}; allowed: {', '.join(CHANNEL_NAMES)}"
                )
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> CenterConfig:
        for group_name, group in self.agent_groups.items():
            for skill in group.skills:
                if skill not in self.channels:
                    raise ValueError(
                        f"agent_groups.{group_name}.skills names channel {skill!r}, "
                        f"which is not configured (channels: {sorted(self.channels)})"
                    )
        ids: set[int] = set()
        for index, agreement in enumerate(self.agreements):
            if agreement.id in ids:
                raise ValueError(f"agreements.{index}.id {agreement.id} is repeated")
            ids.add(agreement.id)
            for channel in agreement.channels:
                if channel not in self.channels:
                    raise ValueError(
                        f"agreements.{index}.channels names {channel!r}, "
                        f"which is not configured"
                    )
            for group_name in agreement.groups:
                if group_name not in self.agent_groups:
                    raise ValueError(
                        f"agreements.{index}.groups names {group_name!r}, "
                        f"which is not configured"
                    )
        self._check_profiles()
        return self

    def _check_profiles(self) -> None:
        """Every open interval needs an intraday weight in every profile used."""
        profiles = [("arrival_profile", self.arrival_profile)] + [
            (f"channels.{name}.arrival", channel.arrival)
            for name, channel in self.channels.items()
            if channel.arrival is not None
        ]
        step = self.center.interval_minutes
        for path, profile in profiles:
            for day, hours in self.center.opening_hours.items():
                if day not in profile.weekday_share:
                    raise ValueError(f"{path}.weekday_share has no weight for {day!r}")
                for minute in range(hours.open_minute, hours.close_minute, step):
                    key = f"{minute // 60:02d}:{minute % 60:02d}"
                    if key not in profile.intraday:
                        raise ValueError(
                            f"{path}.intraday has no weight for the {key} interval "
                            f"(open {hours.open}-{hours.close} on {day})"
                        )

    def profile_of(self, channel: str) -> ArrivalProfile:
        """The arrival profile a channel uses (its own, or the center's)."""
        return self.channels[channel].arrival or self.arrival_profile

    def service_level_of(self, channel: str) -> ServiceLevel | None:
        """The service-level definition of a channel, if it has one."""
        return self.channels[channel].service_level


def field_exists(root: dict[str, Any], dotted: str) -> bool:
    """Whether a dotted path (``a.b.0.c``) resolves inside a plain mapping."""
    node: Any = root
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True
