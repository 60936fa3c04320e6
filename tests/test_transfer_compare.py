"""Population-quality replay and the seeded-vs-scratch comparison table."""

from __future__ import annotations

import pytest

from eatnas.errors import EatnasError
from eatnas.transfer.compare import Point, compare_curves, population_curve, value_at_time
from eatnas.transfer.runs import Evaluation


def _evals(accs, times=None, records=None):
    times = times or [float(i + 1) for i in range(len(accs))]
    records = records or [{} for _ in accs]
    return [Evaluation(i, f"a{i}", a, a, t, r) for i, (a, t, r) in enumerate(zip(accs, times, records))]


def test_oldest_removal_replay() -> None:
    pts = population_curve(_evals([10, 20, 30, 40]), population=2, removal="oldest")
    assert [p.size for p in pts] == [1, 2, 2, 2]
    assert [p.mean_accuracy for p in pts] == [10, 15, 25, 35]
    assert [p.best_accuracy for p in pts] == [10, 20, 30, 40]


def test_worst_removal_replay_removes_lowest_fitness_even_the_newcomer() -> None:
    pts = population_curve(_evals([50, 20, 10, 60]), population=2, removal="worst")
    # after 3: {50, 20, 10} -> drop 10 (the newcomer) -> {50, 20}; after 4: drop 20 -> {50, 60}
    assert [p.mean_accuracy for p in pts] == [50, 35, 35, 55]


def test_explicit_removals_in_history_win() -> None:
    recs = [{"id": 0}, {"id": 1}, {"id": 2, "removed": 1}]
    pts = population_curve(_evals([10, 20, 30], records=recs), population=1)
    assert [p.size for p in pts] == [1, 2, 2]
    assert pts[-1].mean_accuracy == 20  # {10, 30}


def test_bad_population() -> None:
    with pytest.raises(EatnasError, match="population"):
        population_curve(_evals([1.0]), population=0)


def test_compare_flags_and_time_grid() -> None:
    seeded = [Point(i + 1, 2.0 * (i + 1), 80 + i, 85 + i, 2) for i in range(5)]
    scratch = [Point(i + 1, 1.0 * (i + 1), 40 + 5 * i, 50 + 5 * i, 2) for i in range(6)]
    table = compare_curves(seeded, scratch)
    assert len(table["by_evaluations"]) == 5
    assert table["seeded_mean_above_every_evaluation"] and table["seeded_mean_above_every_time"]
    assert table["by_wall_time"][0]["wall_time_s"] == 2.0 and table["by_wall_time"][-1]["wall_time_s"] == 6.0
    worse = [Point(p.evaluations, p.wall_time_s, 10.0, 10.0, 2) for p in seeded]
    assert not compare_curves(worse, scratch)["seeded_mean_above_every_evaluation"]
    assert value_at_time(seeded, 1.0, "mean_accuracy") is None
    assert value_at_time(seeded, 5.0, "mean_accuracy") == 81
