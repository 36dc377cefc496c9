"""Random durations (handle time, patience, IVR time) parameterised by mean and cv.

Draws come in blocks from a ``numpy.random.Generator`` and are handed out one at
a time: a per-contact call into numpy costs more than the whole SimPy step, so the
model asks a :class:`Sampler` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import overload

import numpy as np
from scipy.special import gammaincinv, ndtri

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


UNIFORM_EDGE = 1e-12
"""Uniforms are kept this far from 0 and 1 before an inverse-CDF transform."""


class UniformStream:
    """The uniforms of a Generator, or their antithetic complements ``1 - u``.

    A simulated day draws everything through these streams, by inversion of
    the CDF, so that two replications built on the same Generator state, one
    of them antithetic, are mirror images: a long handle time in one is a
    short one in the other, a busy interval a quiet one (see
    ``simulator.forecast``).
    """

    __slots__ = ("_rng", "antithetic")

    def __init__(self, rng: np.random.Generator, antithetic: bool = False) -> None:
        self._rng = rng
        self.antithetic = antithetic

    @overload
    def random(self, size: None = None) -> float: ...

    @overload
    def random(self, size: int) -> np.ndarray: ...

    def random(self, size: int | None = None) -> float | np.ndarray:
        """Uniforms on [0, 1), or (0, 1] when antithetic; a float without size."""
        if size is None:
            u = self._rng.random()
            return 1.0 - u if self.antithetic else u
        block = self._rng.random(size)
        return 1.0 - block if self.antithetic else block

    def open_random(self, size: int) -> np.ndarray:
        """Uniforms kept inside (0, 1), safe for any inverse CDF."""
        return np.clip(self.random(size), UNIFORM_EDGE, 1.0 - UNIFORM_EDGE)


def block_drawer(
    distribution: str,
    mean: float,
    cv: float,
    rng: np.random.Generator | UniformStream,
) -> Callable[[int], np.ndarray]:
    """Return a function that draws ``n`` values of the named distribution.

    ``distribution`` is one of ``lognormal``, ``exponential``, ``gamma``,
    ``deterministic`` or ``none`` (never happens: every draw is ``inf``).
    From a :class:`UniformStream` the draws are inverse-CDF transforms of
    its uniforms (so they follow its antithetic flag); from a Generator they
    are numpy's own samplers.

    Raises:
        ValueError: for an unknown distribution name or invalid mean/cv.
    """
    if distribution == "none":
        return lambda n: np.full(n, math.inf)
    if not mean > 0:
        raise ValueError(f"mean must be > 0, got {mean!r}")
    if distribution == "deterministic" or cv == 0.0:
        return lambda n: np.full(n, float(mean))
    if distribution not in ("exponential", "lognormal", "gamma"):
        raise ValueError(
            f"unknown distribution {distribution!r}; allowed: lognormal, "
            "exponential, gamma, deterministic, none"
        )
    if isinstance(rng, UniformStream):
        return _inverse_drawer(distribution, mean, cv, rng)
    if distribution == "exponential":
        return lambda n: rng.exponential(mean, n)
    if distribution == "lognormal":
        mu, sigma = lognormal_params(mean, cv)
        return lambda n: rng.lognormal(mu, sigma, n)
    shape = 1.0 / (cv * cv)
    return lambda n: rng.gamma(shape, mean / shape, n)


def _inverse_drawer(
    distribution: str, mean: float, cv: float, stream: UniformStream
) -> Callable[[int], np.ndarray]:
    """The drawer of :func:`block_drawer` for a stream: inversion of its CDF."""
    if distribution == "exponential":
        return lambda n: -mean * np.log1p(-stream.open_random(n))
    if distribution == "lognormal":
        mu, sigma = lognormal_params(mean, cv)
        return lambda n: np.exp(mu + sigma * ndtri(stream.open_random(n)))
    shape = 1.0 / (cv * cv)
    return lambda n: gammaincinv(shape, stream.open_random(n)) * (mean / shape)


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
    distribution: str,
    mean: float,
    cv: float,
    rng: np.random.Generator | UniformStream,
) -> Sampler:
    """Build a :class:`Sampler` for a distribution given by mean and cv."""
    return Sampler(block_drawer(distribution, mean, cv, rng))
