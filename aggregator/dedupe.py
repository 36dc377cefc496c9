"""A bounded memory of recently seen event ids, so a redelivered event counts once.

Kafka delivers at least once, and producers retry: the same event can arrive
twice. The window holds the last ``capacity`` ids in arrival order; memory is
fixed whatever the length of the run, and a duplicate older than the window
is counted again (the window is sized far beyond any redelivery seen in
practice: a producer retry or a replay of one uncommitted batch).

Ids of the batch being applied stay *pending* until the batch's offsets are
committed: if the commit fails the batch is undone, and its ids must not be
remembered, or their redelivery would be dropped as duplicates.
"""

from __future__ import annotations

from collections import deque

DEFAULT_CAPACITY = 262_144
"""Ids remembered: about 20 days of the reference center, 5 hours at 100x."""


class DedupeWindow:
    """Remembers the last ``capacity`` confirmed ids, plus the pending batch's."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._order: deque[str] = deque()
        self._seen: set[str] = set()
        self._pending: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._seen) + len(self._pending)

    def first_time(self, event_id: str) -> bool:
        """True (and remember it as pending) unless the id was seen in the window."""
        if event_id in self._seen or event_id in self._pending:
            return False
        self._pending[event_id] = None
        return True

    def confirm(self) -> None:
        """The pending batch is committed: remember its ids, forget the oldest."""
        for event_id in self._pending:
            self._order.append(event_id)
            self._seen.add(event_id)
        self._pending.clear()
        while len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())

    def discard(self) -> None:
        """The pending batch is undone: forget its ids."""
        self._pending.clear()
