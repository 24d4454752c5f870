"""The row orders of the shuffles: the same ones `sklearn.inspection.permutation_importance` uses.

sklearn draws one seed from `RandomState(random_state)`, and for every column shuffles an index
array in place once per repeat, applying each shuffle to the column as it stands (so repeat k's
column is the original taken through every shuffle so far). Every column sees the same orders.
Following it exactly lets a test compare raylane's numbers with sklearn's to rounding error.

Example:
    >>> shuffle_orders(rows=5, repeats=2, seed=0).shape
    (2, 5)
"""

from __future__ import annotations

import numpy as np

__all__ = ["shuffle_orders"]


def shuffle_orders(rows: int, repeats: int, seed: int) -> np.ndarray:
    """int64[repeats, rows]: repeat k's shuffled column is `column.take(orders[k])`."""
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    state = np.random.RandomState(column_seed)
    index, order = np.arange(rows), np.arange(rows)
    orders = np.empty((repeats, rows), dtype=np.int64)
    for repeat in range(repeats):
        state.shuffle(index)
        order = order[index]
        orders[repeat] = order
    return orders
