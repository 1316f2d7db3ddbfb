"""Sweep results as a grid and as lines; the exercises' preset grids."""

import math

import numpy as np
import pytest

from cnnlab.lab.sweep_views import EXERCISE_GRIDS, cell_grid, lines_by_b
from cnnlab.lab.sweeps import SweepRow


def row(a, b, acc, loss, diverged=False):
    return SweepRow(a, b, 1.0, 0.5, loss, acc, 1.0, diverged=diverged)


ROWS = [row(0.1, 0.0, 0.8, 0.5), row(0.01, 0.0, 0.9, 0.3), row(0.1, 0.01, 0.7, 0.6),
        row(1.0, 0.01, math.nan, math.nan, diverged=True)]


def test_cell_grid_places_each_row_and_leaves_the_rest_nan():
    va, vb = [0.01, 0.1, 1.0], [0.0, 0.01]
    acc = cell_grid(ROWS, va, vb)
    assert acc[0, 0] == 0.9 and acc[1, 0] == 0.8 and acc[1, 1] == 0.7
    assert np.isnan(acc[0, 1]) and np.isnan(acc[2, 1]) and np.isnan(acc[2, 0])
    assert cell_grid(ROWS, va, vb, "val_loss")[0, 0] == 0.3
    with pytest.raises(ValueError, match="unknown sweep metric"):
        cell_grid(ROWS, va, vb, "train_acc")


def test_lines_one_per_other_value_sorted_by_learning_rate():
    lines = lines_by_b(ROWS, [0.1, 0.01, 1.0], [0.0, 0.01], "val_loss")
    assert [b for b, _x, _y in lines] == [0.0, 0.01]
    b, xs, ys = lines[0]
    np.testing.assert_array_equal(xs, [0.01, 0.1]) and np.testing.assert_array_equal(ys, [0.3, 0.5])
    np.testing.assert_array_equal(lines[1][1], [0.1])  # the diverged cell has no point
    assert lines_by_b([], [0.1], [0.0]) == []


def test_the_exercise_grids():
    lam, batch = EXERCISE_GRIDS
    assert lam.lrs == (0.1, 0.01, 1e-3, 1e-4) and lam.values_b == (0.0, 0.005, 0.01)
    assert batch.lrs == (0.01, 1e-3, 1e-4) and batch.values_b == (16, 32, 64, 128)
    assert dict(lam.hyper) == {"momentum": 0.0}  # plain SGD, as the exercises train
