"""Random durations (handle time, patience, IVR time) parameterised by mean and cv.

Draws come in blocks from a ``numpy.random.Generator`` and are handed out one at
a time: a per-contact call into numpy costs more than the whole SimPy step, so the
model asks a :class:`Sampler` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

BLOCK = 1024
"""Draws fetched from numpy at a time."""


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """Return ``(mu, sigma)`` of the lognormal with the given mean and cv.

    Raises:
        ValueError: if ``mean`` is not positive or ``cv`` is negative.
    """
    if not mean > 0:
        raise ValueError(f"mean must be > 0, got {mean!r}")
    if cv < 0:
        raise ValueError(f"cv must be >= 0, got {cv!r}")
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def block_drawer(
    distribution: str, mean: float, cv: float, rng: np.random.Generator
) -> Callable[[int], np.ndarray]:
    """Return a function that draws ``n`` values of the named distribution.

    ``distribution`` is one of ``lognormal``, ``exponential``, ``gamma``,
    ``deterministic`` or ``none`` (never happens: every draw is ``inf``).

    Raises:
        ValueError: for an unknown distribution name or invalid mean/cv.
    """
    if distribution == "none":
        return lambda n: np.full(n, math.inf)
    if not mean > 0:
        raise ValueError(f"mean must be > 0, got {mean!r}")
    if distribution == "deterministic" or cv == 0.0:
        return lambda n: np.full(n, float(mean))
    if distribution == "exponential":
        return lambda n: rng.exponential(mean, n)
    if distribution == "lognormal":
        mu, sigma = lognormal_params(mean, cv)
        return lambda n: rng.lognormal(mu, sigma, n)
    if distribution == "gamma":
        shape = 1.0 / (cv * cv)
        return lambda n: rng.gamma(shape, mean / shape, n)
    raise ValueError(
        f"unknown distribution {distribution!r}; allowed: lognormal, exponential, "
        "gamma, deterministic, none"
    )


class Sampler:
    """Hands out draws one by one from blocks of a distribution.

    Call the instance to get the next draw (seconds).
    """

    __slots__ = ("_draw", "_pool")

    def __init__(self, draw_block: Callable[[int], np.ndarray]) -> None:
        self._draw = draw_block
        self._pool: list[float] = []

    def __call__(self) -> float:
        """Return the next draw."""
        pool = self._pool
        if not pool:
            # Reversed so that pop() hands out the block in drawing order.
            pool.extend(self._draw(BLOCK)[::-1].tolist())
        return pool.pop()


def sampler(
    distribution: str, mean: float, cv: float, rng: np.random.Generator
) -> Sampler:
    """Build a :class:`Sampler` for a distribution given by mean and cv."""
    return Sampler(block_drawer(distribution, mean, cv, rng))
