"""Random durations: mean and spread as configured, by both drawing paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.distributions import (
    UniformStream,
    block_drawer,
    lognormal_params,
    sampler,
)

DRAWS = 200_000


def source(kind: str, seed: int) -> np.random.Generator | UniformStream:
    generator = np.random.default_rng(seed)
    return UniformStream(generator) if kind == "stream" else generator


@pytest.mark.parametrize("kind", ["generator", "stream"])
@pytest.mark.parametrize("distribution", ["lognormal", "exponential", "gamma"])
def test_draws_have_the_configured_mean_and_cv(kind, distribution):
    cv = 1.0 if distribution == "exponential" else 0.8
    draws = block_drawer(distribution, 600.0, cv, source(kind, 3))(DRAWS)

    assert draws.min() > 0
    assert draws.mean() == pytest.approx(600.0, rel=0.01)
    assert draws.std() / draws.mean() == pytest.approx(cv, rel=0.03)


@settings(max_examples=50, deadline=None)
@given(
    mean=st.floats(min_value=1.0, max_value=1e4),
    cv=st.floats(min_value=0.05, max_value=3.0),
)
def test_lognormal_parameters_give_back_mean_and_cv(mean, cv):
    mu, sigma = lognormal_params(mean, cv)

    assert math.exp(mu + sigma**2 / 2) == pytest.approx(mean, rel=1e-9)
    assert math.sqrt(math.exp(sigma**2) - 1) == pytest.approx(cv, rel=1e-9)


def test_antithetic_stream_mirrors_every_uniform():
    plain = UniformStream(np.random.default_rng(8))
    mirror = UniformStream(np.random.default_rng(8), antithetic=True)

    assert np.allclose(plain.random(1000) + mirror.random(1000), 1.0)
    assert plain.random() + mirror.random() == pytest.approx(1.0)


def test_antithetic_lognormal_draws_mirror_around_the_median():
    mu, _ = lognormal_params(600.0, 0.8)
    plain = block_drawer(
        "lognormal", 600.0, 0.8, UniformStream(np.random.default_rng(5))
    )
    mirror = block_drawer(
        "lognormal", 600.0, 0.8, UniformStream(np.random.default_rng(5), True)
    )

    # z and -z: the product of a pair is the squared median, exp(2 mu).
    assert np.allclose(plain(500) * mirror(500), math.exp(2 * mu))


def test_open_uniforms_never_reach_zero_or_one():
    class Edges:
        def random(self, size=None):
            return np.array([0.0, 1.0 - 2**-53, 0.5])

    stream = UniformStream(Edges(), antithetic=True)  # type: ignore[arg-type]
    values = stream.open_random(3)

    assert np.all((values > 0) & (values < 1))
    assert np.isfinite(block_drawer("exponential", 60.0, 1.0, stream)(3)).all()


def test_sampler_hands_out_a_block_in_drawing_order():
    block = block_drawer("lognormal", 100.0, 0.5, np.random.default_rng(2))(1024)
    one_by_one = sampler("lognormal", 100.0, 0.5, np.random.default_rng(2))

    assert [one_by_one() for _ in range(1024)] == block.tolist()


@pytest.mark.parametrize(
    ("distribution", "mean", "message"),
    [("weibull", 10.0, "allowed: lognormal"), ("lognormal", 0.0, "mean must be > 0")],
)
def test_bad_distribution_settings_are_named(distribution, mean, message):
    with pytest.raises(ValueError, match=message):
        block_drawer(distribution, mean, 0.5, np.random.default_rng(0))
