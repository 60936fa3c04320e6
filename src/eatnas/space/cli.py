"""``eatnas space sample | cost | show``: inspect any registered search space from the shell."""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

import yaml

from eatnas.errors import ConfigError, EatnasError
from eatnas.space.base import SPACES, BuildSpec, SearchSpace, get_space


def _parse_opts(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (values parsed as YAML: numbers, lists, null) -> space options."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--opt {pair!r} must be KEY=VALUE (e.g. --opt skip_mode=mobilenetv2)")
        out[key] = yaml.safe_load(value)
    return out


def make_space(name: str, opts: dict[str, Any], preset: str | None = None) -> SearchSpace:
    """Instantiate a space; a preset's own options (``preset_options``) apply unless overridden."""
    import eatnas.space  # noqa: F401  (registers built-in spaces)

    cls = SPACES.get(name)
    merged = {**getattr(cls, "preset_options", {}).get(preset, {}), **opts} if preset else dict(opts)
    try:
        return get_space(name, **merged)
    except TypeError as exc:
        raise ConfigError(f"space {name!r} does not accept options {sorted(merged)}: {exc}") from None


def _arch_of(space: SearchSpace, args: argparse.Namespace) -> Any:
    if (args.arch is None) == (args.preset is None):
        raise ConfigError("give exactly one of ARCH (an architecture string) or --preset NAME "
                          f"(presets of {space.name!r}: {sorted(space.presets)})")
    return space.preset(args.preset) if args.preset else space.decode(args.arch)


def _spec(args: argparse.Namespace) -> BuildSpec:
    for key in ("input", "classes", "in_channels"):
        if getattr(args, key) < 1:
            raise ConfigError(f"--{key.replace('_', '-')} is {getattr(args, key)}; use a positive integer")
    return BuildSpec(num_classes=args.classes, input_size=args.input, in_channels=args.in_channels)


def cmd_sample(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise ConfigError(f"--n is {args.n}; use a non-negative count")
    space = make_space(args.space, _parse_opts(args.opt))
    rng = random.Random(args.seed)
    for _ in range(args.n):
        print(space.encode(space.sample(rng)))
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    space = make_space(args.space, _parse_opts(args.opt), args.preset)
    arch = _arch_of(space, args)
    spec = _spec(args)
    try:
        cost = space.cost(arch, spec)
    except ValueError as exc:
        raise EatnasError(f"cannot cost this architecture: {exc}") from None
    print(json.dumps({"space": space.name, "arch": space.encode(arch), "preset": args.preset,
                      "params": cost.params, "macs": cost.macs, "input_size": spec.input_size,
                      "num_classes": spec.num_classes, "in_channels": spec.in_channels,
                      "options": space.describe()}))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from eatnas.space.draw import draw_arch

    space = make_space(args.space, _parse_opts(args.opt), args.preset)
    arch = _arch_of(space, args)
    path = draw_arch(space, arch, _spec(args), args.out, title=args.preset)
    print(path)
    return 0


def _add_space_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="block", help="registered search space (default: block)")
    p.add_argument("--opt", action="append", metavar="KEY=VALUE",
                   help="space option, repeatable (e.g. --opt skip_mode=mobilenetv2 --opt width_multiplier=1.4)")


def _add_arch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", nargs="?", help="canonical architecture string")
    p.add_argument("--preset", help="a named architecture of the space instead of ARCH")
    p.add_argument("--input", type=int, default=32, help="input resolution in px (default 32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default 10)")
    p.add_argument("--in-channels", type=int, default=3, help="input channels (default 3)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``space`` with sub-commands ``sample``, ``cost``, ``show``."""
    space = subparsers.add_parser("space", help="sample, cost and draw architectures of a search space")
    sub = space.add_subparsers(dest="space_command", metavar="SUBCOMMAND")
    space.set_defaults(func=lambda _args: (space.print_help(), 2)[1])

    p = sub.add_parser("sample", help="print N random canonical architecture strings")
    _add_space_args(p)
    p.add_argument("--n", type=int, default=10, help="how many (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("cost", help="print parameters and MACs of an architecture as one JSON object")
    _add_space_args(p)
    _add_arch_args(p)
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("show", help="draw an architecture to a PNG")
    _add_space_args(p)
    _add_arch_args(p)
    p.add_argument("--out", required=True, help="output image (.png)")
    p.set_defaults(func=cmd_show)
