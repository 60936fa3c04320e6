"""Seeded, stratified index selection: validation hold-out and proxy subsets."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into ``(kept, held_out)`` with ``fraction`` of every class held out.

    Each class holds out ``round(fraction * n_c)`` images (at least one when the class has two or
    more); both index arrays are sorted. The same labels and seed always give the same split.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n = int(round(fraction * len(idx)))
        if len(idx) >= 2:
            n = min(max(n, 1), len(idx) - 1)
        held.append(idx[:n])
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def stratified_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified ``fraction`` of the images (all of them when ``fraction >= 1``)."""
    labels = np.asarray(labels)
    if fraction >= 1.0:
        return np.arange(len(labels))
    _, kept = stratified_split(labels, fraction, seed)
    return kept


def first_classes(labels: np.ndarray, k: int | None) -> np.ndarray:
    """Sorted indices of the images whose label is one of the first ``k`` classes (all when ``None``)."""
    labels = np.asarray(labels)
    if k is None:
        return np.arange(len(labels))
    return np.flatnonzero(labels < k)
