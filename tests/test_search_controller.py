"""RENAS controller: exact gradients, learning a bandit, masking, state hand-off."""

from __future__ import annotations

import numpy as np
import pytest

from eatnas.errors import CheckpointError
from eatnas.search.controller import ControllerTrainer, MutationController, action_mask
from eatnas.search.history import load_state, save_state

VOCAB = (5,) * 6


def _objective(net, toks, mask, act, adv, ec):
    fw = net.forward(toks, mask)
    lp, lv = fw["lp_pos"], fw["lp_val"]
    pp = np.where(fw["any_pos"], np.exp(lp), 0)
    pv = np.where(mask, np.exp(lv), 0)
    hv = -(pv * np.where(mask, lv, 0)).sum(1)
    ent = -(pp * np.where(fw["any_pos"], lp, 0)).sum() + (pp * hv).sum()
    return adv * (lp[act[0]] + lv[act]) + ec * ent


def test_gradient_matches_finite_differences():
    net = MutationController(VOCAB, embedding=4, hidden=3, seed=1)
    net.theta += np.random.default_rng(0).normal(0, 0.3, net.theta.shape)
    toks = [0, 3, 1, 4, 2, 0]
    mask = action_mask(VOCAB, [(p, v) for p in range(6) for v in range(5) if v != toks[p] and (p, v) != (2, 0)])
    mask[4] = False
    g = net.grad(net.forward(toks, mask), (1, 2), 0.7, 0.3)
    num = np.zeros_like(g)
    for i in range(len(g)):
        net.theta[i] += 1e-6
        a = _objective(net, toks, mask, (1, 2), 0.7, 0.3)
        net.theta[i] -= 2e-6
        b = _objective(net, toks, mask, (1, 2), 0.7, 0.3)
        net.theta[i] += 1e-6
        num[i] = (a - b) / 2e-6
    assert np.abs(g - num).max() < 1e-6 * max(1.0, np.abs(num).max())


def test_samples_respect_the_mask():
    tr = ControllerTrainer(VOCAB, embedding=8, hidden=8, seed=0)
    mask = action_mask(VOCAB, [(2, 1), (5, 4)])
    rng = np.random.default_rng(0)
    assert {tr.sample([0] * 6, mask, rng) for _ in range(50)} == {(2, 1), (5, 4)}


def test_learns_which_change_pays():
    """Reward +1 for setting any position to value 3, -1 otherwise: p(value 3) must rise."""
    tr = ControllerTrainer(VOCAB, embedding=8, hidden=16, lr=0.02, entropy=0.0, steps=2, seed=0)
    rng = np.random.default_rng(1)
    toks = [0, 1, 2, 4, 0, 1]
    mask = action_mask(VOCAB, [(p, v) for p in range(6) for v in range(5) if v != toks[p]])
    before = tr.probabilities(toks, mask)[:, 3].sum()
    for _ in range(60):
        pos, val = tr.sample(toks, mask, rng)
        tr.update(toks, mask, (pos, val), 1.0 if val == 3 else -1.0)
    after = tr.probabilities(toks, mask)[:, 3].sum()
    assert before == pytest.approx(0.25, abs=0.01)
    assert after > 0.8


def test_state_round_trip_and_vocab_check(tmp_path):
    tr = ControllerTrainer(VOCAB, embedding=8, hidden=8, lr=0.05, seed=0)
    toks, mask = [1] * 6, action_mask(VOCAB, [(0, 3), (1, 2)])
    tr.update(toks, mask, (0, 3), 1.0)
    tr.update(toks, mask, (1, 2), -1.0)
    save_state(tmp_path / "c.npz", {"controller": tr.state_dict()})
    other = ControllerTrainer(VOCAB, embedding=8, hidden=8, lr=0.05, seed=5)
    other.load_state_dict(load_state(tmp_path / "c.npz")["controller"])
    assert np.array_equal(other.net.theta, tr.net.theta) and other.baseline == tr.baseline
    np.testing.assert_allclose(other.probabilities(toks, mask), tr.probabilities(toks, mask))
    with pytest.raises(CheckpointError, match="vocabulary"):
        ControllerTrainer((5,) * 7, embedding=8, hidden=8).load_state_dict(tr.state_dict())
    with pytest.raises(CheckpointError, match="sizes"):
        ControllerTrainer(VOCAB, embedding=4, hidden=8).load_state_dict(tr.state_dict())
    with pytest.raises(CheckpointError, match="does not exist"):
        load_state(tmp_path / "missing.npz")
