"""Sub-commands ``final``, ``report`` and ``gpu-run`` (the workflow's own stages and GPU placement)."""

from __future__ import annotations

import argparse

from eatnas.stages import gpus


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("final", help="train the searched architecture from scratch, quantize, export, evaluate")
    p.add_argument("--config", required=True, help="resolved pipeline config (YAML)")
    p.add_argument("--search", required=True, help="search output folder holding best.json")
    p.add_argument("--policy", required=True, help="quantization policy JSON (quant search output)")
    p.add_argument("--out", required=True, help="output folder: model.pt, quantized.pt, metrics.json")
    p.set_defaults(func=_final)

    p = sub.add_parser("report", help="plots, summary.json and summary.md of a finished run")
    p.add_argument("--config", required=True, help="resolved pipeline config (YAML)")
    p.add_argument("--results", required=True, help="the run folder results/<run>")
    p.add_argument("--out", required=True, help="output folder for the report")
    p.set_defaults(func=_report)

    p = sub.add_parser("gpu-run", help="claim free GPU ids, set CUDA_VISIBLE_DEVICES, exec a command")
    gpus.add_arguments(p)
    p.set_defaults(func=gpus.command_from_args)


def _final(args: argparse.Namespace) -> int:
    from eatnas.stages.final import run_final

    run_final(args.config, args.search, args.policy, args.out)
    return 0


def _report(args: argparse.Namespace) -> int:
    from eatnas.stages.report import run_report

    run_report(args.config, args.results, args.out)
    return 0
