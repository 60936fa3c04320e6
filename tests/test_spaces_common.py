"""Behaviour every registered search space must have (a newly registered space is tested automatically).

A space may set ``test_resolutions`` (input sizes its networks must build at; default (32,)) and, when its
constructor needs arguments, a classmethod ``test_instance()`` returning an instance to test (else skipped).
"""

from __future__ import annotations

import random

import pytest
import torch

import eatnas.space  # noqa: F401  (registers the built-in spaces)
from eatnas.errors import ArchStringError
from eatnas.models.layers import count_params
from eatnas.space.base import SPACES, BuildSpec, SearchSpace, get_space
from eatnas.space.cli import make_space
from eatnas.space.draw import draw_arch

NAMES = SPACES.names()
GARBAGE = ["", "garbage", "-", "|", "||||", "~", "+", "0", "-1", "a b c", "\x00", "None", "[]", "{}", "\u00e9\u00e8",
           "sep_k3_l1_w1_s0", "|none~0|+|", "x" * 500]



@pytest.fixture(scope="module", params=NAMES)
def space(request) -> SearchSpace:
    cls = SPACES.get(request.param)
    if hasattr(cls, "test_instance"):
        return cls.test_instance()
    try:
        return get_space(request.param)
    except TypeError as exc:
        pytest.skip(f"space {request.param!r} needs constructor arguments ({exc}); give it a test_instance() classmethod")


def _samples(space: SearchSpace, n: int, seed: int = 0) -> list:
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


def test_round_trip_1000_samples(space):
    for arch in _samples(space, 1000):
        text = space.encode(arch)
        assert isinstance(text, str) and text
        back = space.decode(text)
        assert back == arch and hash(back) == hash(arch)
        assert space.encode(back) == text
        assert space.from_tokens(space.tokens(arch)) == arch


def test_token_view_consistent(space):
    sizes = space.vocab_sizes()
    assert len(sizes) == len(space.position_names()) and all(n >= 1 for n in sizes)
    for arch in _samples(space, 50, seed=1):
        toks = space.tokens(arch)
        assert len(toks) == len(sizes) and all(0 <= t < n for t, n in zip(toks, sizes))
        assert space.features(arch).shape == (sum(sizes),)
        assert space.distance(arch, arch) == 0


def test_every_action_gives_valid_different_architecture(space):
    for arch in _samples(space, 15, seed=2):
        actions = space.actions(arch)
        assert actions, "every architecture needs at least one mutation"
        for act in actions:
            child = space.apply(arch, act)
            space.validate(child)
            assert child != arch and space.tokens(child)[act.position] == act.value
            assert space.distance(arch, child) >= 1
            assert space.decode(space.encode(child)) == child


def test_sampling_reproducible(space):
    a = [space.encode(x) for x in _samples(space, 20, seed=5)]
    assert a == [space.encode(x) for x in _samples(space, 20, seed=5)]
    assert a != [space.encode(x) for x in _samples(space, 20, seed=6)]


def test_garbage_rejected(space):
    for text in GARBAGE:
        with pytest.raises(ArchStringError) as info:
            space.decode(text)
        assert info.value.position is None or isinstance(info.value.position, int), text


def test_corrupted_valid_string_rejected(space):
    for arch in _samples(space, 5, seed=3):
        text = space.encode(arch)
        for bad in (text + "#", "#" + text, text.replace(text[len(text) // 2], "\u00a7", 1)):
            with pytest.raises(ArchStringError):
                space.decode(bad)


def test_presets_are_canonical(space):
    for name, text in space.presets.items():
        s = make_space(space.name, {}, name)
        assert s.encode(s.preset(name)) == text
        assert s.canonical_key(s.preset(name)) == s.canonical_key(s.decode(text))


def test_build_forward_and_params_equal_analytic(space):
    resolutions = getattr(space, "test_resolutions", (32,))
    for i, arch in enumerate(_samples(space, 21, seed=4)):
        size = resolutions[i % len(resolutions)]
        spec = BuildSpec(num_classes=10, input_size=size, in_channels=1 if size < 32 else 3)
        model = space.build(arch, spec).eval()
        assert count_params(model) == space.cost(arch, spec).params, space.encode(arch)
        with torch.no_grad():
            out = model(torch.randn(2, spec.in_channels, size, size))
        assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_draw_writes_png(space, tmp_path):
    arch = _samples(space, 1, seed=9)[0]
    path = draw_arch(space, arch, BuildSpec(10, getattr(space, "test_resolutions", (32,))[-1], 3), tmp_path / "a.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
