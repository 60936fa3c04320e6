"""Errors of the quantization package."""

from __future__ import annotations

from eatnas.errors import EatnasError


class QuantError(EatnasError):
    """A bit-width, policy, scheme, size target or quantized file is invalid."""
