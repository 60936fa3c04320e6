"""Fitness (accuracy, JASQ), Pareto front and hypervolume."""

from __future__ import annotations

import pytest

from eatnas.errors import ConfigError
from eatnas.search.fitness import Fitness, hypervolume, pareto_front


def test_accuracy_objective():
    assert Fitness()({"accuracy": 91.5, "macs": 1e6}) == 91.5


def test_jasq_uses_alpha_below_and_beta_above_target():
    f = Fitness(objective="jasq", cost="size_mb", target=2.0, alpha=-0.1, beta=-1.0)
    assert f({"accuracy": 90.0, "size_mb": 1.0}) == pytest.approx(90.0 * 0.5 ** -0.1)
    assert f({"accuracy": 90.0, "size_mb": 4.0}) == pytest.approx(90.0 * 2.0 ** -1.0)
    assert f({"accuracy": 90.0, "size_mb": 2.0}) == pytest.approx(90.0)


def test_null_target_is_calibrated_from_the_initial_population():
    f = Fitness(objective="jasq", cost="params", target=None)
    assert f.needs_target
    f.calibrate([{"accuracy": 1, "params": 10}, {"accuracy": 1, "params": 30}])
    assert f.target == 20 and not f.needs_target


def test_missing_cost_key_is_a_clear_error():
    f = Fitness(objective="jasq", cost="latency", target=1.0)
    with pytest.raises(ConfigError, match="latency"):
        f({"accuracy": 90.0, "macs": 3})


def test_pareto_front_and_hypervolume():
    pts = [(90.0, 4.0), (85.0, 1.0), (80.0, 2.0), (92.0, 8.0), (70.0, 9.0)]
    assert pareto_front(pts) == [1, 0, 3]
    # slabs: cost 1..4 at 85, 4..8 at 90, 8..10 at 92
    assert hypervolume(pts, ref_cost=10.0) == pytest.approx(85 * 3 + 90 * 4 + 92 * 2)
    assert hypervolume([], ref_cost=10.0) == 0.0
