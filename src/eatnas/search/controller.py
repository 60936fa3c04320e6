"""RENAS mutation controller: embedding + bidirectional LSTM over the parent's tokens, two heads.

The position head scores every token position, the value head scores the new value at a position;
both are masked to the allowed actions (``mask[pos, value]``), so a sampled action is always valid.
:class:`ControllerTrainer` trains it online with REINFORCE (moving-average baseline, normalised
advantage, entropy bonus, Adam) on reward = child fitness - parent fitness.

The network is small and runs one sequence at a time, so it is written in numpy (float64) with
hand-derived gradients: ~10x faster than autograd at this size and bit-reproducible. The gradient
is checked against finite differences in the tests.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Sequence

import numpy as np

from eatnas.errors import CheckpointError


class MutationController:
    """Parameters live in one flat vector ``theta``; named arrays are views into it.

    A token's input embedding is the sum of a (position, value) embedding and a value embedding
    shared by all positions (value index ``v`` at any position), so that what is learned about a
    value at one position transfers to the others.
    """

    def __init__(self, vocab_sizes: Sequence[int], embedding: int = 32, hidden: int = 64, seed: int = 0) -> None:
        self.vocab_sizes = tuple(int(v) for v in vocab_sizes)
        self.L, self.V, self.E, self.H = len(self.vocab_sizes), max(self.vocab_sizes), int(embedding), int(hidden)
        self.offsets = np.concatenate([[0], np.cumsum(self.vocab_sizes)[:-1]]).astype(np.int64)
        E, H, V = self.E, self.H, self.V
        self.shapes = {"emb": (sum(self.vocab_sizes), E), "emb_val": (V, E),
                       "wx_f": (E, 4 * H), "wh_f": (H, 4 * H), "b_f": (4 * H,),
                       "wx_b": (E, 4 * H), "wh_b": (H, 4 * H), "b_b": (4 * H,),
                       "w_pos": (2 * H,), "b_pos": (1,), "w_val": (2 * H, V), "b_val": (V,)}
        self.theta = np.zeros(sum(math.prod(s) for s in self.shapes.values()))
        self._slices = {}
        i = 0
        for name, shape in self.shapes.items():
            self._slices[name] = (i, i + math.prod(shape), shape)
            i += math.prod(shape)
        self.p = self._views(self.theta)
        # tanh(z * scale) gives all gates at once: sigmoid(z) = (1 + tanh(z / 2)) / 2 for i, f, o; tanh for g
        self._gate_scale = np.full(4 * H, 0.5)
        self._gate_scale[2 * H:3 * H] = 1.0
        rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(H)
        self.p["emb"][:] = rng.normal(0.0, 1.0, self.shapes["emb"])
        self.p["emb_val"][:] = rng.normal(0.0, 1.0, self.shapes["emb_val"])
        for name in ("wx_f", "wh_f", "b_f", "wx_b", "wh_b", "b_b"):
            self.p[name][:] = rng.uniform(-k, k, self.shapes[name])
        # heads start at zero: the initial policy is uniform over the allowed actions

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        return {name: flat[a:b].reshape(shape) for name, (a, b, shape) in self._slices.items()}

    # --- forward ------------------------------------------------------------------------------
    def _lstm(self, X: np.ndarray, d: str) -> tuple[np.ndarray, list]:
        wx, wh, b = self.p["wx_" + d], self.p["wh_" + d], self.p["b_" + d]
        H = self.H
        Z = X @ wx + b
        h, c = np.zeros(H), np.zeros(H)
        hs, cache = np.empty((len(X), H)), []
        for t in range(len(X)):
            tz = np.tanh((Z[t] + h @ wh) * self._gate_scale)
            s = 0.5 + 0.5 * tz
            i, f, o, g = s[:H], s[H:2 * H], s[3 * H:], tz[2 * H:3 * H]
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            cache.append((h, c, i, f, g, o, tc))
            h, c = o * tc, c_new
            hs[t] = h
        return hs, cache

    def forward(self, tokens: Sequence[int], mask: np.ndarray) -> dict[str, Any]:
        """Log-probabilities ``lp_pos`` (L,) and ``lp_val`` (L, V); masked entries are -inf."""
        toks = np.asarray(tokens, dtype=np.int64)
        ids = toks + self.offsets
        X = self.p["emb"][ids] + self.p["emb_val"][toks]
        hf, cf = self._lstm(X, "f")
        hb_rev, cb = self._lstm(X[::-1], "b")
        Hs = np.concatenate([hf, hb_rev[::-1]], axis=1)
        pos_logits = Hs @ self.p["w_pos"] + self.p["b_pos"][0]
        val_logits = Hs @ self.p["w_val"] + self.p["b_val"]
        any_pos = mask.any(1)
        lp_pos = _masked_log_softmax(pos_logits, any_pos)
        lp_val = _masked_log_softmax(val_logits, mask)
        return {"ids": ids, "toks": toks, "X": X, "cf": cf, "cb": cb, "Hs": Hs, "lp_pos": lp_pos, "lp_val": lp_val,
                "mask": mask, "any_pos": any_pos}

    # --- backward -----------------------------------------------------------------------------
    def grad(self, fw: dict[str, Any], action: tuple[int, int], adv: float, ent_coef: float) -> np.ndarray:
        """Gradient of ``adv * log p(action) + ent_coef * entropy`` w.r.t. ``theta``."""
        pos, val = action
        lp_pos, lp_val, mask, any_pos = fw["lp_pos"], fw["lp_val"], fw["mask"], fw["any_pos"]
        pi_pos = np.where(any_pos, np.exp(lp_pos), 0.0)
        pi_val = np.where(mask, np.exp(lp_val), 0.0)
        nlp_val = np.where(mask, -lp_val, 0.0)
        h_val = (pi_val * nlp_val).sum(1)
        # policy-gradient part
        d_pos = -adv * pi_pos
        d_pos[pos] += adv
        d_val = np.zeros_like(pi_val)
        d_val[pos] = -adv * pi_val[pos]
        d_val[pos, val] += adv
        if ent_coef:
            g = np.where(any_pos, -lp_pos, 0.0) + h_val
            d_pos += ent_coef * pi_pos * (g - (pi_pos * g).sum())
            d_val += ent_coef * pi_pos[:, None] * pi_val * (nlp_val - h_val[:, None])
        grad = np.zeros_like(self.theta)
        gp = self._views(grad)
        Hs = fw["Hs"]
        gp["w_pos"][:] = Hs.T @ d_pos
        gp["b_pos"][0] = d_pos.sum()
        gp["w_val"][:] = Hs.T @ d_val
        gp["b_val"][:] = d_val.sum(0)
        dHs = np.outer(d_pos, self.p["w_pos"]) + d_val @ self.p["w_val"].T
        dX = self._lstm_back(fw["X"], fw["cf"], dHs[:, :self.H], "f", gp)
        dXb = self._lstm_back(fw["X"][::-1], fw["cb"], dHs[::-1, self.H:], "b", gp)
        dX = dX + dXb[::-1]
        np.add.at(gp["emb"], fw["ids"], dX)
        np.add.at(gp["emb_val"], fw["toks"], dX)
        return grad

    def _lstm_back(self, X: np.ndarray, cache: list, dhs: np.ndarray, d: str, gp: dict) -> np.ndarray:
        wx, wh = self.p["wx_" + d], self.p["wh_" + d]
        H, T = self.H, len(X)
        dZ = np.empty((T, 4 * H))
        Hprev = np.empty((T, H))
        dh_next, dc_next = np.zeros(H), np.zeros(H)
        for t in range(T - 1, -1, -1):
            h_prev, c_prev, i, f, g, o, tc = cache[t]
            dh = dhs[t] + dh_next
            dc = dh * o * (1.0 - tc * tc) + dc_next
            dz = dZ[t]
            dz[:H] = dc * g * i * (1.0 - i)
            dz[H:2 * H] = dc * c_prev * f * (1.0 - f)
            dz[2 * H:3 * H] = dc * i * (1.0 - g * g)
            dz[3 * H:] = dh * tc * o * (1.0 - o)
            dc_next = dc * f
            dh_next = wh @ dz
            Hprev[t] = h_prev
        gp["wx_" + d] += X.T @ dZ
        gp["wh_" + d] += Hprev.T @ dZ
        gp["b_" + d] += dZ.sum(0)
        return dZ @ wx.T


def _masked_log_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Log-softmax over the allowed entries; disallowed entries get about -1e30 (probability 0)."""
    z = np.where(mask, logits, -1e30)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def action_mask(vocab_sizes: Sequence[int], allowed: Sequence[tuple[int, int]]) -> np.ndarray:
    """Boolean (L, V) mask of the allowed (position, value) pairs."""
    mask = np.zeros((len(vocab_sizes), max(vocab_sizes)), dtype=bool)
    for pos, val in allowed:
        mask[pos, val] = True
    return mask


class ControllerTrainer:
    """Samples actions from a :class:`MutationController` and trains it with REINFORCE + Adam."""

    def __init__(self, vocab_sizes: Sequence[int], *, embedding: int = 32, hidden: int = 64, lr: float = 3.5e-4,
                 entropy: float = 1e-4, baseline_decay: float = 0.9, steps: int = 1, reward_norm: str = "zscore",
                 adv_clip: float = 3.0, temperature: float = 1.0, seed: int = 0) -> None:
        if reward_norm not in ("none", "zscore", "rank"):
            raise ValueError(f"reward_norm {reward_norm!r}: choose none, zscore or rank")
        self.net = MutationController(vocab_sizes, embedding, hidden, seed)
        self.lr, self.entropy, self.decay, self.steps = float(lr), float(entropy), float(baseline_decay), int(steps)
        self.reward_norm, self.adv_clip, self.temperature = reward_norm, float(adv_clip), float(temperature)
        self.m = np.zeros_like(self.net.theta)
        self.v = np.zeros_like(self.net.theta)
        self.t = 0
        self.baseline: float | None = None
        self.var: float = 0.0
        self.recent: deque[float] = deque(maxlen=32)

    # --- acting -------------------------------------------------------------------------------
    def probabilities(self, tokens: Sequence[int], mask: np.ndarray) -> np.ndarray:
        """Joint probability (L, V) of every action under the current policy."""
        fw = self.net.forward(tokens, mask)
        return np.where(fw["mask"], np.exp(fw["lp_pos"])[:, None] * np.exp(fw["lp_val"]), 0.0)

    def sample(self, tokens: Sequence[int], mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
        """Draw (position, value) from the masked policy using ``rng`` (reproducible)."""
        fw = self.net.forward(tokens, mask)
        inv_t = 1.0 / self.temperature
        lp = fw["lp_pos"]
        p_pos = np.where(fw["any_pos"], np.exp(inv_t * (lp - lp.max())), 0.0)
        pos = int(rng.choice(len(p_pos), p=p_pos / p_pos.sum()))
        lv = fw["lp_val"][pos]
        p_val = np.where(mask[pos], np.exp(inv_t * (lv - lv.max())), 0.0)
        return pos, int(rng.choice(len(p_val), p=p_val / p_val.sum()))

    # --- learning -----------------------------------------------------------------------------
    def advantage(self, reward: float) -> float:
        """Reward minus the moving-average baseline, normalised (z-score or rank) and clipped."""
        if self.baseline is None:
            self.baseline = reward
        delta = reward - self.baseline
        self.recent.append(reward)
        if self.reward_norm == "rank":
            n = len(self.recent)
            below = sum(r < reward for r in self.recent) + 0.5 * (sum(r == reward for r in self.recent) - 1)
            adv = 2.0 * below / (n - 1) - 1.0 if n > 1 else 0.0
        elif self.reward_norm == "zscore":
            adv = delta / math.sqrt(self.var) if self.var > 0 else 0.0
        else:
            adv = delta
        self.baseline = self.decay * self.baseline + (1 - self.decay) * reward
        self.var = self.decay * self.var + (1 - self.decay) * delta * delta
        return float(max(-self.adv_clip, min(self.adv_clip, adv)))

    def update(self, tokens: Sequence[int], mask: np.ndarray, action: tuple[int, int], reward: float) -> float:
        """REINFORCE step(s) on one (parent tokens, action, reward); returns the advantage used."""
        adv = self.advantage(reward)
        if adv == 0.0 and self.entropy == 0.0:
            return adv
        for _ in range(self.steps):
            g = self.net.grad(self.net.forward(tokens, mask), action, adv, self.entropy)
            self.t += 1
            self.m = 0.9 * self.m + 0.1 * g
            self.v = 0.999 * self.v + 0.001 * g * g
            step = self.lr * (self.m / (1 - 0.9 ** self.t)) / (np.sqrt(self.v / (1 - 0.999 ** self.t)) + 1e-8)
            self.net.theta += step  # gradient ascent on the objective
        return adv

    # --- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"vocab_sizes": list(self.net.vocab_sizes), "embedding": self.net.E, "hidden": self.net.H,
                "theta": self.net.theta.copy(), "adam_m": self.m.copy(), "adam_v": self.v.copy(), "adam_t": self.t,
                "baseline": self.baseline, "var": self.var, "recent": list(self.recent)}

    def load_state_dict(self, state: dict[str, Any], source: str = "controller state") -> None:
        vocab = tuple(state.get("vocab_sizes", ()))
        if vocab != self.net.vocab_sizes:
            raise CheckpointError(f"{source}: controller token vocabulary {list(vocab)} does not match this space's "
                                  f"{list(self.net.vocab_sizes)}; load a controller trained on the same space")
        sizes = (state.get("embedding"), state.get("hidden"))
        if sizes != (self.net.E, self.net.H) or len(state.get("theta", ())) != len(self.net.theta):
            raise CheckpointError(f"{source}: controller sizes (embedding, hidden) = {sizes} differ from the config's "
                                  f"{(self.net.E, self.net.H)}; set search.controller.embedding/hidden to match")
        self.net.theta[:] = np.asarray(state["theta"], dtype=np.float64)
        self.m = np.asarray(state["adam_m"], dtype=np.float64).copy()
        self.v = np.asarray(state["adam_v"], dtype=np.float64).copy()
        self.t = int(state["adam_t"])
        self.baseline, self.var = state.get("baseline"), float(state.get("var") or 0.0)
        self.recent = deque(state.get("recent", []), maxlen=self.recent.maxlen)
