"""Scaling the basic architecture to a cost target at the target resolution."""

from __future__ import annotations

import pytest
from test_transfer_fake_space import FakeSpace

from eatnas.errors import ConfigError, EatnasError
from eatnas.space.base import BuildSpec
from eatnas.transfer.scale import scale_to_target

BASIC = FakeSpace().decode("01121-11111-10111")
SPEC = BuildSpec(num_classes=10, input_size=28, in_channels=1)


def test_no_target_keeps_architecture_and_reports_target_cost() -> None:
    s = scale_to_target(FakeSpace(), BASIC, SPEC)
    assert s.arch == BASIC and (s.width_steps, s.depth_steps) == (0, 0)
    assert s.cost == FakeSpace().cost(BASIC, SPEC)


def test_target_met_with_largest_feasible_cost() -> None:
    space = FakeSpace()
    full = space.cost(BASIC, SPEC).macs
    s = scale_to_target(space, BASIC, SPEC, metric="macs", target=full * 0.6)
    assert s.cost.macs <= full * 0.6
    assert (s.width_steps, s.depth_steps) != (0, 0)
    # a generous target keeps (or grows) the architecture; the result is always the max feasible cost
    big = scale_to_target(space, BASIC, SPEC, metric="macs", target=full * 1.01)
    assert big.cost.macs >= full and big.cost.macs <= full * 1.01


def test_params_metric() -> None:
    space = FakeSpace()
    full = space.cost(BASIC, SPEC).params
    s = scale_to_target(space, BASIC, SPEC, metric="params", target=full / 2)
    assert s.cost.params <= full / 2


def test_unreachable_target_is_a_clear_error() -> None:
    with pytest.raises(EatnasError, match=r"transfer\.cost_target=10 macs cannot be met at 28px"):
        scale_to_target(FakeSpace(), BASIC, SPEC, metric="macs", target=10)


def test_unknown_metric() -> None:
    with pytest.raises(ConfigError, match="cost_metric"):
        scale_to_target(FakeSpace(), BASIC, SPEC, metric="flops", target=10)
