"""Command-line interface: ``eatnas <command> ...`` / ``python -m eatnas <command> ...``.

Each command family lives beside the code it drives and exposes ``register(subparsers)``;
the parser it adds sets ``func(args) -> int``. User errors (:class:`EatnasError`) print one
line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from eatnas.errors import EatnasError
from eatnas.version import code_version

# Modules that contribute sub-commands, in help order.
COMMAND_MODULES = (
    "eatnas.data.cli",          # data info
    "eatnas.space.cli",         # space sample | cost | show
    "eatnas.train.cli",         # train (one architecture, one budget)
    "eatnas.search.cli",        # search, bench nb201
    "eatnas.quant.cli",         # quant search | apply | size
    "eatnas.transfer.cli",      # select, transfer
    "eatnas.stages.cli",        # final, report, gpu-lock helpers for the workflow
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eatnas", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"eatnas {code_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command family not installed in this build
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EatnasError as exc:
        print(f"eatnas: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eatnas: interrupted", file=sys.stderr)
        return 130
