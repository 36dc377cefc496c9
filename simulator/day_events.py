"""A simulated day as a list of contract events (for files and streams)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cctwin.calendar import local_midnight_utc
from cctwin.config.models import CenterConfig
from cctwin.events import DayEventBuilder
from simulator.day import simulate_day


def simulate_day_events(
    config: CenterConfig, day: dt.date, seed: int, replication: int = 0
) -> list[dict[str, Any]]:
    """Simulate ``day`` and return its events in time order.

    The tallies of the same day come from the same run, so a consumer of these
    events can be checked against ``simulate_day`` with the same seed.
    """
    token = f"s{seed}r{replication}d{day:%Y%m%d}"
    builder = DayEventBuilder(config.center.id, local_midnight_utc(config, day), token)
    simulate_day(config, day, seed, replication, emit=builder)
    return builder.events()
