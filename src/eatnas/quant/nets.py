"""Fixed networks for bit-policy search and size queries: torchvision nets adapted to a dataset, or
``space:preset`` / ``space:<architecture string>`` from our search spaces.

Adaptation of torchvision nets (documented in docs/quantization.md):

* ``resnet18``: first conv becomes 3x3 stride 1 (``in_channels`` inputs) and the max-pool is removed
  for inputs below 64 px (CIFAR-style); ``fc`` -> ``num_classes``.
* ``mobilenet_v2``: first conv takes ``in_channels`` and has stride 1 for inputs below 64 px;
  ``classifier[1]`` -> ``num_classes``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from torch import nn

from eatnas.errors import EatnasError
from eatnas.models.pointwise import replace_strided_pointwise
from eatnas.quant.errors import QuantError
from eatnas.space.base import SPACES, BuildSpec, get_space

SMALL_INPUT = 64


def _resnet18(spec: BuildSpec) -> nn.Module:
    from torchvision.models import resnet18

    m = resnet18(num_classes=spec.num_classes)
    if spec.input_size < SMALL_INPUT:
        m.conv1 = nn.Conv2d(spec.in_channels, 64, 3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    elif spec.in_channels != 3:
        m.conv1 = nn.Conv2d(spec.in_channels, 64, 7, stride=2, padding=3, bias=False)
    return replace_strided_pointwise(m)  # the downsampling shortcuts (models/pointwise.py)


def _mobilenet_v2(spec: BuildSpec) -> nn.Module:
    from torchvision.models import mobilenet_v2

    m = mobilenet_v2(num_classes=spec.num_classes)
    stride = 1 if spec.input_size < SMALL_INPUT else 2
    m.features[0][0] = nn.Conv2d(spec.in_channels, 32, 3, stride=stride, padding=1, bias=False)
    return m


TORCHVISION: dict[str, Callable[[BuildSpec], nn.Module]] = {"resnet18": _resnet18, "mobilenet_v2": _mobilenet_v2}


def build_net(name: str, spec: BuildSpec, space_options: Mapping[str, Any] | None = None) -> tuple[nn.Module, str]:
    """``(model, canonical name)`` for a torchvision name or ``space:preset`` / ``space:<arch string>``.

    ``space_options`` are passed to the space (e.g. the config's ``space`` section without ``name``).
    """
    if name in TORCHVISION:
        return TORCHVISION[name](spec), name
    if ":" in name:
        space_name, _, what = name.partition(":")
        import eatnas.space  # noqa: F401  (registers the spaces)

        preset_opts = getattr(SPACES.get(space_name), "preset_options", {}).get(what, {})
        space = get_space(space_name, **{**preset_opts, **dict(space_options or {})})
        try:
            arch = space.preset(what) if what in space.presets else space.decode(what)
        except EatnasError as exc:
            raise QuantError(f"--net {name!r}: {exc}; use {space_name}:<preset> with one of {sorted(space.presets)}") from None
        return space.build(arch, spec), f"{space_name}:{space.encode(arch)}"
    raise QuantError(f"--net {name!r} is unknown; use one of {sorted(TORCHVISION)} or 'space:preset' (e.g. block:tiny)")


def space_net_meta(space: str, arch: str, space_options: Mapping[str, Any], spec: BuildSpec) -> dict[str, Any]:
    """The export metadata from which :func:`build_net` (hence ``eatnas quant apply``) rebuilds ``arch`` of
    ``space``: ``net`` and ``canonical`` (``space:arch``), ``space_options`` and ``spec``."""
    name = f"{space}:{arch}"
    return {"net": name, "canonical": name, "space_options": dict(space_options),
            "spec": {"num_classes": spec.num_classes, "input_size": spec.input_size, "in_channels": spec.in_channels}}
