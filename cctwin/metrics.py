"""The agreement formulas (DESIGN.md, metric definitions), computed from counts.

Every path that reports an agreement (forecast, live aggregator, report) sums the
same counts and calls these functions, so the same contacts give the same
figures. Totals over channels, intervals and days are pooled by summing counts
first: never an average of percentages. A ratio with nothing under it is
``None`` ("no data"), never a division by zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from cctwin.config.models import ServiceLevel

COUNT_FIELDS: tuple[str, ...] = (
    "offered",
    "answered",
    "abandoned",
    "answered_within",
    "abandoned_within",
    "abandoned_short",
    "wait_answered_seconds",
    "handle_seconds",
)
"""Per channel and interval: contacts by outcome and the sums the ratios need.

``answered_within`` and ``abandoned_within`` use the service-level threshold
(wait <= T, inclusive); ``abandoned_within`` excludes short abandons;
``abandoned_short`` counts abandons with wait < S (the short-abandon bound).
"""

Counts = Mapping[str, float]


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is 0."""
    return numerator / denominator if denominator > 0 else None


def service_level(counts: Counts, definition: ServiceLevel) -> float | None:
    """Share of offered contacts answered within the threshold (0-1).

    ``definition.abandons`` picks the variant: ``negative`` counts abandons
    against, ``ignored`` drops within-threshold abandons from the denominator,
    ``positive`` counts them as met. Short abandons leave every denominator.
    """
    offered = counts["offered"] - counts["abandoned_short"]
    within = counts["answered_within"]
    if definition.abandons == "ignored":
        return ratio(within, offered - counts["abandoned_within"])
    if definition.abandons == "positive":
        return ratio(within + counts["abandoned_within"], offered)
    return ratio(within, offered)


def answer_rate(counts: Counts) -> float | None:
    """Answered / offered (nivel de atención), 0-1."""
    return ratio(counts["answered"], counts["offered"])


def abandonment(counts: Counts) -> float | None:
    """Abandoned / offered, 0-1."""
    return ratio(counts["abandoned"], counts["offered"])


def asa_seconds(counts: Counts) -> float | None:
    """Mean wait of answered contacts (ASA), seconds."""
    return ratio(counts["wait_answered_seconds"], counts["answered"])


def handle_time_seconds(counts: Counts) -> float | None:
    """Mean handle time (TMO: talk + hold + wrap-up) of answered contacts."""
    return ratio(counts["handle_seconds"], counts["answered"])


def occupancy(busy_seconds: float, available_seconds: float) -> float | None:
    """Busy time over busy plus available time of logged-in agents, 0-1."""
    return ratio(busy_seconds, busy_seconds + available_seconds)


def adherence(adherent_seconds: float, scheduled_seconds: float) -> float | None:
    """Time in the scheduled state over scheduled time, 0-1."""
    return ratio(adherent_seconds, scheduled_seconds)


def pooled(parts: list[Counts]) -> dict[str, float]:
    """Sum counts field by field (pooling by volume)."""
    return {name: sum(part[name] for part in parts) for name in COUNT_FIELDS}
