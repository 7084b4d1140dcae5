"""A fixed train / valid / test split of a dataset's rows: by bank when rows come from several banks, else by preset."""

__all__ = ["SPLITS", "row_groups", "split_rows"]

import numpy as np

SPLITS = ("train", "valid", "test")


def split_rows(
    n_rows: int,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Row indices of each split, sorted.

    Arguments:
        n_rows: number of rows.
        seed: seeds the shuffle.
        fractions: train, valid, test shares.
        groups: one label per row (e.g. the preset bank); when given with at least three distinct
            labels, whole groups go to one split so no bank is shared between splits.

    Returns:
        ``{"train": idx, "valid": idx, "test": idx}``.
    """
    rng = np.random.default_rng([seed, n_rows])
    bounds = np.cumsum(fractions)[:2] / np.sum(fractions)
    if groups is not None and len(set(groups)) >= 3:
        labels, inverse = np.unique(np.asarray(groups), return_inverse=True)
        order = rng.permutation(len(labels))
        n = len(labels)
        first = int(np.clip(np.round(bounds[0] * n), 1, n - 2))
        cut = [first, int(np.clip(np.round(bounds[1] * n), first + 1, n - 1))]
        parts = np.split(order, cut)
        return {name: np.flatnonzero(np.isin(inverse, part)) for name, part in zip(SPLITS, parts, strict=True)}
    order = rng.permutation(n_rows)
    cut = np.round(bounds * n_rows).astype(int)
    return {name: np.sort(part) for name, part in zip(SPLITS, np.split(order, cut), strict=True)}


def row_groups(banks: np.ndarray, presets: np.ndarray) -> np.ndarray:
    """The group each row must share a split with ``(N,)``.

    Human presets from three or more banks (and no uniform draws) group by bank, so a model is
    judged on banks it never saw; otherwise rows group by preset, so that the notes of one preset
    and the random variations around one human preset (``name~k``) never straddle two splits.
    """
    banks = np.asarray(banks, dtype=str)
    centers = np.char.partition(np.asarray(presets, dtype=str), "~")[:, 0]
    if "uniform" not in banks and len(set(banks)) >= 3:
        return banks
    return np.char.add(np.char.add(banks, "/"), centers)
