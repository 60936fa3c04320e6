"""EAT-NAS elastic transfer: basic-architecture selection, scaling to the target task,
the offspring generator, parameter inheritance for offspring, and the seeded-vs-scratch comparison.

See ``docs/transfer.md`` for the stage files and every inferred choice with its default.
"""
