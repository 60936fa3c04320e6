"""Workflow stages the Snakemake rules call: final training + quantized export, report, GPU placement."""
