"""Each service agreement (ANS) of a config, computed from a window's counts.

The queue agreements pool the window's ``COUNT_FIELDS`` over their channels
and call the formulas of ``cctwin.metrics``, exactly as the forecast does; a
contact still waiting past its threshold is added to the service level's
offered contacts, as a miss. The agreements behind other event kinds use the
definitions below (each a ratio of two counts, ``None`` when nothing is
under it, so "no data" is explicit):

- ``availability``: available seconds / period seconds reported;
- ``provisioning_days``: mean days of the provisioning events;
- ``complaint_rate``: complaints / contacts answered (all channels);
- ``satisfaction``: surveys scoring >= 90% of their scale / surveys;
- ``turnover``: staff who left / the config's headcount (busiest weekday's
  rostered agents over all groups);
- ``critical_user_accuracy`` and ``critical_business_accuracy``: the
  provider's audits without a critical error / its audits;
- ``critical_user_audit_gap``: |provider's user accuracy - the entity's|;
- ``knowledge_score`` and ``supervisor_score``: mean score (0-1);
- ``first_contact_resolution``: resolved at first contact / resolutions;
- ``campaign_error_rate``: campaign messages with errors / messages sent.

Occupancy is time busy or in wrap-up over that plus time available, and
adherence time in the scheduled state over scheduled time, of the
agreement's groups (see :func:`aggregator.state.agent_time_names`).
"""

from __future__ import annotations

from collections.abc import Mapping

from cctwin import metrics
from cctwin.config.models import Agreement, CenterConfig
from cctwin.metrics import COUNT_FIELDS, ratio

Counts = dict[tuple[str, str], float]


def headcount(config: CenterConfig) -> int:
    """Rostered agents on the busiest weekday, over all groups."""
    per_day: dict[str, int] = {}
    for group in config.agent_groups.values():
        for shift in group.shifts:
            for day in shift.days:
                per_day[day] = per_day.get(day, 0) + shift.agents
    return max(per_day.values(), default=0)


def check_supported(config: CenterConfig) -> None:
    """Fail fast on agreements the live path cannot compute as the forecast does.

    Raises:
        ValueError: if a service-level agreement overrides its channels'
            threshold, or pools channels with different definitions.
    """
    for agreement in config.agreements:
        if agreement.metric != "service_level":
            continue
        definitions = {config.service_level_of(c) for c in agreement.channels}
        if len(definitions) != 1 or None in definitions:
            raise ValueError(
                f"agreement {agreement.id} ({agreement.name}) pools channels "
                f"{agreement.channels} with different or missing service levels; "
                "pooled channels must share one definition"
            )
        (definition,) = definitions
        assert definition is not None
        threshold = agreement.threshold_seconds
        if threshold is not None and threshold != definition.threshold_seconds:
            raise ValueError(
                f"agreement {agreement.id} ({agreement.name}) sets threshold_seconds "
                f"{threshold}, but its channels count within "
                f"{definition.threshold_seconds} s; set the channel's "
                "service_level.threshold_seconds instead"
            )


def channel_counts(counts: Counts, channels: list[str]) -> dict[str, float]:
    """``COUNT_FIELDS`` pooled over ``channels`` (summed in the order given)."""
    parts: list[Mapping[str, float]] = [
        {name: counts.get((name, channel), 0.0) for name in COUNT_FIELDS}
        for channel in channels
    ]
    return metrics.pooled(parts)


def _group_sum(counts: Counts, name: str, groups: list[str]) -> float:
    return sum(counts.get((name, group), 0.0) for group in groups)


def _fact(counts: Counts, name: str) -> float:
    return counts.get((name, ""), 0.0)


def value(
    config: CenterConfig, agreement: Agreement, counts: Counts, staff: int
) -> float | None:
    """One agreement's figure from a window's counts, or ``None`` (no data)."""
    metric = agreement.metric
    if metric in ("service_level", "asa_seconds", "handle_time_seconds",
                  "answer_rate", "abandonment"):  # fmt: skip
        pooled = channel_counts(counts, agreement.channels)
        if metric == "service_level":
            definition = config.service_level_of(agreement.channels[0])
            assert definition is not None
            missed = sum(
                counts.get(("waiting_missed", c), 0.0) for c in agreement.channels
            )
            pooled["offered"] += missed
            return metrics.service_level(pooled, definition)
        function = getattr(metrics, metric)
        result: float | None = function(pooled)
        return result
    if metric == "occupancy":
        busy = sum(
            _group_sum(counts, f"agent_{s}_ms", agreement.groups)
            for s in ("busy", "wrap_up")
        )
        return metrics.occupancy(
            busy, _group_sum(counts, "agent_available_ms", agreement.groups)
        )
    if metric == "adherence":
        return metrics.adherence(
            _group_sum(counts, "agent_adherent_ms", agreement.groups),
            _group_sum(counts, "agent_scheduled_ms", agreement.groups),
        )
    if metric == "complaint_rate":
        answered = sum(counts.get(("answered", c), 0.0) for c in config.channels)
        return ratio(_fact(counts, "complaints"), answered)
    if metric == "turnover":
        left = sum(counts.get(("staff_left", g), 0.0) for g in config.agent_groups)
        return ratio(left, float(staff))
    if metric == "critical_user_audit_gap":
        own = ratio(_fact(counts, "audits_user_ok"), _fact(counts, "audits"))
        entity = ratio(
            _fact(counts, "entity_audits_user_ok"), _fact(counts, "entity_audits")
        )
        return None if own is None or entity is None else abs(own - entity)
    numerator, denominator = FACT_RATIOS[metric]
    return ratio(_fact(counts, numerator), _fact(counts, denominator))


FACT_RATIOS: dict[str, tuple[str, str]] = {
    "availability": ("service_available_seconds", "service_period_seconds"),
    "provisioning_days": ("provisioning_days_sum", "provisionings"),
    "satisfaction": ("surveys_satisfied", "surveys"),
    "critical_user_accuracy": ("audits_user_ok", "audits"),
    "critical_business_accuracy": ("audits_business_ok", "audits"),
    "knowledge_score": ("knowledge_score_sum", "knowledge_evaluations"),
    "supervisor_score": ("supervisor_score_sum", "supervisor_evaluations"),
    "first_contact_resolution": ("resolutions_first_contact", "resolutions"),
    "campaign_error_rate": ("campaign_errors", "campaign_messages"),
}
"""Agreements that are one center-wide count over another: (numerator, denominator)."""
